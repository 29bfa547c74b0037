// The _musefm extension module: thin nanobind wrappers over the public C++ API
// (musefm/audio.h, musefm/encoder.h, musefm/extract.h). No model logic lives here; this file
// only converts between Python objects and at::Tensor and releases the GIL around compute.
//
// Arrays cross the boundary without copies: numpy arrays and torch tensors arrive through
// nanobind's ndarray (buffer protocol / DLPack) and are viewed with at::from_blob; results are
// handed back as DLPack-backed numpy arrays or torch tensors that own their at::Tensor.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include <ATen/ATen.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "musefm/audio.h"
#include "musefm/encoder.h"
#include "musefm/error.h"
#include "musefm/extract.h"
#include "musefm/feature_runner.h"
#include "musefm/features.h"
#include "musefm/runtime.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

using InArray = nb::ndarray<nb::ro>;

enum class Framework { Numpy, Torch };

bool is_torch_tensor(nb::handle obj) {
  // Held for the life of the process (released, so nothing is decref'd after finalisation).
  static nb::handle tensor_type =
      nb::object(nb::module_::import_("torch").attr("Tensor")).release();
  return nb::isinstance(obj, tensor_type);
}

std::string dtype_name(const nb::dlpack::dtype& d) {
  using C = nb::dlpack::dtype_code;
  const C code = C(d.code);
  if (code == C::Bool) return "bool";
  const char* kind = code == C::Int       ? "int"
                     : code == C::UInt    ? "uint"
                     : code == C::Float   ? "float"
                     : code == C::Bfloat  ? "bfloat"
                     : code == C::Complex ? "complex"
                                          : "unknown";
  return std::string(kind) + std::to_string(int(d.bits));
}

// DLPack element type -> ATen scalar type; only floating-point audio crosses the boundary
// (integer PCM would silently become out-of-range float samples).
at::ScalarType scalar_type(const nb::dlpack::dtype& d, const char* what) {
  if (d.lanes == 1 && nb::dlpack::dtype_code(d.code) == nb::dlpack::dtype_code::Float) {
    if (d.bits == 32) return at::kFloat;
    if (d.bits == 64) return at::kDouble;
    if (d.bits == 16) return at::kHalf;
  }
  if (d.lanes == 1 && nb::dlpack::dtype_code(d.code) == nb::dlpack::dtype_code::Bfloat &&
      d.bits == 16)
    return at::kBFloat16;
  MUSEFM_FAIL(what, ": dtype ", dtype_name(d),
              " is not floating-point audio; pass float32 samples in [-1, 1]");
}

struct Input {
  at::Tensor tensor;  // view of the caller's memory (valid while `array` lives)
  InArray array;
  Framework framework = Framework::Numpy;
};

// A view of a numpy array / torch tensor / DLPack object as an at::Tensor, without a copy.
Input as_tensor(nb::handle obj, const char* what) {
  Input in;
  in.framework = is_torch_tensor(obj) ? Framework::Torch : Framework::Numpy;
  if (!nb::try_cast<InArray>(obj, in.array, /*convert=*/false))
    MUSEFM_FAIL(what, ": expected a numpy array or torch tensor, got ",
                nb::type_name(obj.type()).c_str());
  const InArray& a = in.array;
  std::vector<int64_t> shape(a.ndim()), strides(a.ndim()), flipped;
  const auto* data = static_cast<const char*>(a.data());
  const int64_t item = a.dtype().bits / 8;
  for (size_t i = 0; i < a.ndim(); ++i) {
    shape[i] = int64_t(a.shape(i));
    strides[i] = a.stride(i);
    // ATen has no negative strides (x[::-1]): view the same memory forwards, flip below (a copy).
    if (strides[i] < 0 && shape[i] > 1) {
      data += strides[i] * (shape[i] - 1) * item;
      strides[i] = -strides[i];
      flipped.push_back(int64_t(i));
    }
  }
  at::Device device(at::kCPU);
  if (a.device_type() == nb::device::cuda::value)
    device = at::Device(at::kCUDA, at::DeviceIndex(a.device_id()));
  else
    MUSEFM_CHECK(a.device_type() == nb::device::cpu::value, what, ": arrays on DLPack device type ",
                 a.device_type(), " are not supported");
  in.tensor = at::from_blob(const_cast<char*>(data), shape, strides,
                            at::TensorOptions().dtype(scalar_type(a.dtype(), what)).device(device));
  if (!flipped.empty()) in.tensor = in.tensor.flip(flipped);
  return in;
}

// What a returned array owns: the at::Tensor and, for views of Python memory, that object.
struct Owned {
  at::Tensor tensor;
  nb::object keep_alive;
};

// Hands an at::Tensor to Python as a numpy array or torch tensor sharing its memory.
// `keep_alive`: the Python object whose memory `t` views (for from_blob tensors).
nb::object to_python(at::Tensor t, Framework framework, nb::object keep_alive = {}) {
  if (framework == Framework::Numpy && !t.device().is_cpu()) t = t.to(at::kCPU);
  if (t.scalar_type() != at::kFloat) t = t.to(at::kFloat);
  auto* owned = new Owned{std::move(t), std::move(keep_alive)};
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<Owned*>(p); });
  const at::Tensor& x = owned->tensor;
  std::vector<size_t> shape(size_t(x.dim()));
  for (int64_t i = 0; i < x.dim(); ++i) shape[size_t(i)] = size_t(x.size(i));
  const std::vector<int64_t> strides(x.strides().begin(), x.strides().end());
  const int device_type = x.is_cuda() ? nb::device::cuda::value : nb::device::cpu::value;
  const int device_id = x.is_cuda() ? int(x.device().index()) : 0;
  if (framework == Framework::Torch)
    return nb::cast(nb::ndarray<nb::pytorch, float>(x.data_ptr<float>(), shape.size(), shape.data(),
                                                    owner, strides.data(), nb::dtype<float>(),
                                                    device_type, device_id));
  return nb::cast(nb::ndarray<nb::numpy, float>(x.data_ptr<float>(), shape.size(), shape.data(),
                                                owner, strides.data()));
}

nb::object to_python(const std::vector<at::Tensor>& ts, Framework framework) {
  nb::list out;
  for (const at::Tensor& t : ts) out.append(to_python(t, framework));
  return out;
}

nb::object json_to_dict(const std::string& text) {
  return nb::module_::import_("json").attr("loads")(text);
}

bool is_path(nb::handle obj) {
  static nb::handle path_like = nb::object(nb::module_::import_("os").attr("PathLike")).release();
  return nb::isinstance<nb::str>(obj) || nb::isinstance(obj, path_like);
}

std::string fspath(nb::handle obj) {
  return nb::cast<std::string>(nb::module_::import_("os").attr("fspath")(obj));
}

at::Tensor load_waveform(const std::string& path, int sample_rate,
                         musefm::ResampleQuality quality = musefm::ResampleQuality::Best) {
  musefm::AudioLoadOptions opt;
  opt.target_rate = sample_rate;
  opt.quality = quality;
  nb::gil_scoped_release release;
  return musefm::waveform_tensor(musefm::load_audio(path, opt));
}

// "key=value" overrides (value as JSON) of a feature config from Python keyword arguments.
std::vector<std::string> config_overrides(const nb::kwargs& kwargs) {
  std::vector<std::string> out;
  nb::object dumps = nb::module_::import_("json").attr("dumps");
  for (auto [key, value] : kwargs)
    out.push_back(nb::cast<std::string>(key) + "=" + nb::cast<std::string>(dumps(value)));
  return out;
}

// A stream and the framework of the arrays it was fed (its results are handed back the same way).
struct Stream {
  musefm::ExtractStream stream;
  Framework framework = Framework::Numpy;

  // `step()` (compute or flush) without the GIL, its frames handed back like the inputs.
  template <typename Step>
  nb::object frames(Step step) {
    at::Tensor y;
    {
      nb::gil_scoped_release release;
      y = step();
    }
    return to_python(y, framework);
  }
};

std::string layers_spec(const std::variant<std::string, std::vector<int64_t>>& layers) {
  if (const auto* s = std::get_if<std::string>(&layers)) return *s;
  std::string out;
  for (int64_t i : std::get<std::vector<int64_t>>(layers))
    out += (out.empty() ? "" : ",") + std::to_string(i);
  return out;
}

// Extractor.extract on one input or a list; `inner_s`: seconds spent in the C++ call alone
// (benchmarks/python_overhead.py compares it with the whole Python call).
nb::object extract_any(const musefm::Extractor& ex, nb::handle wav_or_path,
                       double* inner_s = nullptr) {
  const bool many = nb::isinstance<nb::list>(wav_or_path) || nb::isinstance<nb::tuple>(wav_or_path);
  std::vector<nb::handle> items;
  if (many)
    for (nb::handle h : wav_or_path) items.push_back(h);
  else
    items.push_back(wav_or_path);
  std::vector<Input> inputs(items.size());
  std::vector<at::Tensor> waves;
  for (size_t i = 0; i < items.size(); ++i) {
    if (is_path(items[i]))
      inputs[i].tensor =
          load_waveform(fspath(items[i]), ex.encoder().config().sample_rate, ex.config().resample);
    else
      inputs[i] = as_tensor(items[i], "Extractor.extract: waveform");
    waves.push_back(inputs[i].tensor);
  }
  std::vector<at::Tensor> outs;
  {
    nb::gil_scoped_release release;
    const auto t0 = std::chrono::steady_clock::now();
    if (many)
      outs = ex.extract(waves);
    else
      outs.push_back(ex.extract(waves[0]));
    if (inner_s)
      *inner_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  if (!many) return to_python(outs[0], inputs[0].framework);
  nb::list result;
  for (size_t i = 0; i < outs.size(); ++i) result.append(to_python(outs[i], inputs[i].framework));
  return result;
}

}  // namespace

NB_MODULE(_musefm, m) {
  m.doc() = "Native core of musefm (MERT / MusicFM encoders on libtorch).";

  nb::exception<musefm::Error>(m, "Error", PyExc_RuntimeError);

  m.def(
      "load_audio",
      [](nb::handle path, int sample_rate) {
        return to_python(load_waveform(fspath(path), sample_rate), Framework::Numpy);
      },
      "path"_a, "sample_rate"_a = 24000,
      "Decodes an audio file (WAV, FLAC, OGG, Opus, MP3, ... as libsndfile reads them), mixes it\n"
      "to mono and resamples it to `sample_rate` Hz (0 keeps the file's rate).\n\n"
      "Returns a float32 numpy array [L] of samples in [-1, 1]. Raises musefm.Error naming the\n"
      "file and the reason (missing, unreadable, unsupported, corrupt, NaN/Inf samples).");

  nb::class_<musefm::FeatureRunner>(
      m, "FeatureTransform",
      "A front-end feature transform (mel, mfcc, cqt or chroma) with the defaults of\n"
      "`musefm features` and the reference it matches; keyword arguments override config keys.")
      .def(
          "__init__",
          [](musefm::FeatureRunner* self, const std::string& kind, const std::string& device,
             const std::string& resample_quality, const nb::kwargs& config) {
            new (self) musefm::FeatureRunner(
                musefm::parse_enum<musefm::FeatureKind>(kind, "kind"), "", config_overrides(config),
                device, musefm::parse_enum<musefm::ResampleQuality>(resample_quality, "quality"));
          },
          "kind"_a, "device"_a = "cpu", "resample_quality"_a = "best", "config"_a,
          "kind: 'mel' (MusicFM log-mel, torchaudio parity), 'mfcc' (HuBERT Kaldi MFCC +\n"
          "deltas), 'cqt' (MERT's nnAudio CQT) or 'chroma' (librosa chroma_cqt). Other keyword\n"
          "arguments set keys of that config, e.g. sample_rate=16000, n_mels=64 (the keys of\n"
          "`config`). Raises musefm.Error for an unknown key or a bad value.")
      .def(
          "__call__",
          [](const musefm::FeatureRunner& r, nb::handle wav_or_path) {
            if (is_path(wav_or_path)) {
              const at::Tensor wav = load_waveform(fspath(wav_or_path), r.sample_rate());
              at::Tensor y;
              {
                nb::gil_scoped_release release;
                y = r.transform(wav);
              }
              return to_python(y, Framework::Numpy);
            }
            Input in = as_tensor(wav_or_path, "features: waveform");
            at::Tensor y;
            {
              nb::gil_scoped_release release;
              y = r.transform(in.tensor);
            }
            return to_python(y, in.framework);
          },
          "wav_or_path"_a,
          "Features of a float waveform [L] or [B, L] at `sample_rate` (numpy array or torch\n"
          "tensor), or of an audio file (decoded, mono, resampled to `sample_rate`). Returns\n"
          "frame-major [frames, dims] (or [B, frames, dims]) float32, numpy for numpy and path\n"
          "inputs and torch for torch inputs, exactly what `musefm features` writes.")
      .def_prop_ro("kind", [](const musefm::FeatureRunner& r) { return to_string(r.kind()); })
      .def_prop_ro("sample_rate", &musefm::FeatureRunner::sample_rate,
                   "Sample rate (Hz) the transform expects.")
      .def_prop_ro("frame_rate", &musefm::FeatureRunner::frame_rate, "Frames per second.")
      .def_prop_ro(
          "config", [](const musefm::FeatureRunner& r) { return json_to_dict(r.config_json()); },
          "The resolved config as a dict.");

  m.def(
      "keep_freed_memory_for_reuse", [] { musefm::keep_freed_memory_for_reuse(); },
      "Process-wide, opt-in: keeps freed activation blocks in malloc's heap for the next window\n"
      "instead of returning them to the kernel (what the musefm CLI does at start-up; ~6 %\n"
      "faster long extractions, glibc only). Affects every allocation of the process.");

  m.def(
      "resample",
      [](nb::handle wav, int from_rate, int to_rate, const std::string& quality) {
        Input in = as_tensor(wav, "resample: waveform");
        MUSEFM_CHECK(in.tensor.dim() == 1 || in.tensor.dim() == 2,
                     "resample: waveform must be [L] or [B, L], got ", in.tensor.dim(),
                     " dimensions");
        const auto q = musefm::parse_enum<musefm::ResampleQuality>(quality, "quality");
        at::Tensor x = in.tensor.to(at::kCPU, at::kFloat).contiguous();
        std::vector<at::Tensor> rows;
        {
          nb::gil_scoped_release release;
          const at::Tensor x2 = x.dim() == 1 ? x.unsqueeze(0) : x;
          for (int64_t b = 0; b < x2.size(0); ++b) {
            const float* p = x2[b].data_ptr<float>();
            std::vector<float> y =
                musefm::resample(std::vector<float>(p, p + x2.size(1)), 1, from_rate, to_rate, q);
            rows.push_back(at::from_blob(y.data(), {int64_t(y.size())}, at::kFloat).clone());
          }
        }
        at::Tensor out = at::stack(rows);
        return to_python(x.dim() == 1 ? out[0] : out, in.framework);
      },
      "wav"_a, "from_rate"_a, "to_rate"_a, "quality"_a = "best",
      "Resamples a float waveform [L] or [B, L] from `from_rate` to `to_rate` Hz with\n"
      "libsamplerate ('best', 'medium', 'fastest', 'zoh' or 'linear'; 'best' is what load_audio\n"
      "uses) or libsoxr ('soxr-hq', librosa.load's resampler, what Extractor uses for files).");

  nb::class_<musefm::Encoder>(m, "Encoder",
                              "A loaded MERT or MusicFM encoder: waveform -> hidden states of "
                              "every layer.\nImmutable; forward() may be called from several "
                              "threads (the GIL is released while it runs).")
      .def_static(
          "load",
          [](nb::handle path, const std::string& device) {
            const std::string dir = fspath(path);
            nb::gil_scoped_release release;
            return musefm::Encoder::load(dir, device);
          },
          "path"_a, "device"_a = "cpu",
          "Loads `path`/config.json and `path`/model.safetensors onto `device` ('cpu' or\n"
          "'cuda[:N]'), verifying checksums.json when present. Raises musefm.Error naming the\n"
          "file and the missing, unexpected or mis-shaped tensors.")
      .def_static(
          "load_default",
          [](const std::string& device) {
            nb::gil_scoped_release release;
            return musefm::Encoder::load_default(device);
          },
          "device"_a = "cpu",
          "Loads the model musefm ships (musefm-small; $MUSEFM_DEFAULT_MODEL overrides where it\n"
          "is looked for), checksums verified.")
      .def(
          "forward",
          [](const musefm::Encoder& enc, nb::handle wav, int num_states) {
            Input in = as_tensor(wav, "Encoder.forward: waveform");
            std::vector<at::Tensor> states;
            {
              nb::gil_scoped_release release;
              states = enc.forward(in.tensor, num_states);
            }
            return to_python(states, in.framework);
          },
          "wav"_a, "num_states"_a = 0,
          "Hidden states of a float waveform [L] or [B, L] at config['sample_rate'].\n\n"
          "Returns a list of num_hidden_layers + 1 arrays [B, T, hidden_size] (index 0 = the\n"
          "transformer input, last = final layer); `num_states` > 0 keeps only the first that\n"
          "many and skips the layers above. numpy in -> numpy out, torch tensor in -> torch\n"
          "tensor out (on the model's device); inputs and outputs are shared, not copied, when\n"
          "the input is float32 on the model's device.")
      .def("num_frames", &musefm::Encoder::num_frames, "num_samples"_a,
           "Frames produced for `num_samples` input samples.")
      .def_prop_ro(
          "sample_rate", [](const musefm::Encoder& enc) { return enc.config().sample_rate; },
          "Sample rate (Hz) of the waveforms forward() takes.")
      .def_prop_ro(
          "frame_rate", [](const musefm::Encoder& enc) { return enc.config().frame_rate(); },
          "Hidden-state frames per second (frame k at k / frame_rate seconds).")
      .def_prop_ro(
          "config", [](const musefm::Encoder& enc) { return json_to_dict(enc.config().to_json()); },
          "The model's EncoderConfig as a dict (the keys of config.json).");

  nb::class_<musefm::Extractor>(m, "Extractor",
                                "Embeddings of recordings of any length from an Encoder, in "
                                "bounded memory\n(windows of `window` seconds, `hop` apart, "
                                "stitched on the model's frame grid).")
      .def(
          "__init__",
          [](musefm::Extractor* self, const musefm::Encoder& encoder,
             const std::variant<std::string, std::vector<int64_t>>& layers, const std::string& pool,
             double window, double hop, int batch, const std::vector<double>& layer_weights,
             const std::string& precision, const std::string& resample) {
            musefm::ExtractConfig c;
            c.layers = layers_spec(layers);
            c.layer_weights = layer_weights;
            c.pool = musefm::parse_enum<musefm::Pool>(pool, "pool");
            c.window_s = window;
            c.hop_s = hop;
            c.batch = batch;
            c.precision = musefm::parse_enum<musefm::Precision>(precision, "precision");
            c.resample = musefm::parse_enum<musefm::ResampleQuality>(resample, "resample");
            c.validate();
            new (self) musefm::Extractor(encoder, c);
          },
          "encoder"_a, "layers"_a = "all", "pool"_a = "mean", "window"_a = 30.0, "hop"_a = 0.0,
          "batch"_a = 1, "layer_weights"_a = std::vector<double>{}, "precision"_a = "fp32",
          "resample"_a = "soxr-hq",
          "layers: 'all', 'weighted' (one output, the weighted sum of every hidden state with\n"
          "`layer_weights`, uniform when empty), or indices such as [0, 6, -1] / '0,6,-1'.\n"
          "pool: 'mean' (average over time), 'mean+std' (mean then standard deviation over\n"
          "time: 2 x hidden) or 'none' (every frame). window: seconds per forward\n"
          "pass (0 = whole input at once); hop: seconds between window starts (0 = window);\n"
          "batch: windows per forward pass. precision: 'fp32', 'bf16' (matrix products in\n"
          "bfloat16, norms / softmax / features in float32), 'fp16' (CUDA) or 'int8' (CPU: int8\n"
          "linear layers, the rest as bf16). resample: the resampler of file inputs not at the\n"
          "model's rate ('soxr-hq', librosa.load's; or libsamplerate's 'best', 'medium', ...).\n"
          "Raises musefm.Error naming the bad field.")
      .def(
          "extract",
          [](const musefm::Extractor& ex, nb::handle wav_or_path) {
            return extract_any(ex, wav_or_path);
          },
          "wav_or_path"_a,
          "Embeddings of one input: a float waveform [L] at the model's sample rate (numpy array\n"
          "or torch tensor) or an audio file path (decoded, mono, resampled). Returns\n"
          "[outputs, hidden] (pool 'mean'), [outputs, 2 x hidden] ('mean+std') or\n"
          "[outputs, T, hidden] (pool 'none'), as numpy for\n"
          "numpy and path inputs and as a torch tensor for torch inputs.\n\n"
          "A list of inputs returns a list of results; their windows run `batch` at a time\n"
          "(padded and masked: one-by-one results up to float rounding).")
      .def(
          "_extract_timed",
          [](const musefm::Extractor& ex, nb::handle wav_or_path) {
            double inner = 0;
            nb::object out = extract_any(ex, wav_or_path, &inner);
            return nb::make_tuple(out, inner);
          },
          "wav_or_path"_a,
          "For benchmarks: (extract(wav_or_path), seconds spent inside the C++ call).")
      .def(
          "stream", [](const musefm::Extractor& ex) { return Stream{ex.create_stream()}; },
          nb::keep_alive<0, 1>(),
          "A new ExtractStream over this extractor (which it keeps alive): feed blocks with\n"
          "accept_waveform(), take finished frames with compute(), end with flush().")
      .def_prop_ro("encoder", &musefm::Extractor::encoder, nb::rv_policy::reference_internal,
                   "The Encoder it runs.")
      .def_prop_ro("layers", &musefm::Extractor::layers,
                   "Hidden-state indices read (non-negative; 'weighted': all of them).")
      .def_prop_ro("num_outputs", &musefm::Extractor::num_outputs,
                   "Rows of every result: len(layers), or 1 for 'weighted'.")
      .def_prop_ro(
          "config", [](const musefm::Extractor& ex) { return json_to_dict(ex.config().to_json()); },
          "The ExtractConfig as a dict.");

  nb::class_<Stream>(m, "ExtractStream",
                     "Frames of one input as it arrives (live audio or a file read block by "
                     "block), in\nbounded memory; the frames equal Extractor.extract's with pool "
                     "'none'. One per input.")
      .def(
          "accept_waveform",
          [](Stream& s, nb::handle block) {
            Input in = as_tensor(block, "ExtractStream.accept_waveform: block");
            s.framework = in.framework;
            nb::gil_scoped_release release;
            s.stream.accept_waveform(in.tensor);
          },
          "block"_a,
          "Appends a 1-D float block of samples at the model's rate (any length); copied.")
      .def(
          "compute", [](Stream& s) { return s.frames([&] { return s.stream.compute(); }); },
          "Encodes the windows that are complete; returns the frames that will not change\n"
          "[outputs, t, hidden] (t may be 0).")
      .def(
          "flush", [](Stream& s) { return s.frames([&] { return s.stream.flush(); }); },
          "Ends the input and returns the remaining frames. Raises musefm.Error if the whole\n"
          "input was shorter than one frame; no input is accepted afterwards.")
      .def_prop_ro("frames_emitted", [](const Stream& s) { return s.stream.frames_emitted(); })
      .def_prop_ro("samples_accepted", [](const Stream& s) { return s.stream.samples_accepted(); })
      .def_prop_ro("samples_buffered", [](const Stream& s) { return s.stream.samples_buffered(); });

  // Conversion check for the tests: the address of the at::Tensor view of `array`, and that
  // view handed back to Python the way results are.
  m.def(
      "_roundtrip",
      [](nb::handle array) {
        Input in = as_tensor(array, "_roundtrip");
        return nb::make_tuple(reinterpret_cast<std::uintptr_t>(in.tensor.data_ptr()),
                              to_python(in.tensor, in.framework, nb::borrow(array)));
      },
      "array"_a);
}
