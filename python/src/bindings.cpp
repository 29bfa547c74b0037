// The _musefm extension module: thin nanobind wrappers over the public C++ API
// (musefm/audio.h, musefm/encoder.h, musefm/extract.h). No model logic lives here; this file
// only converts between Python objects and at::Tensor and releases the GIL around compute.
//
// Arrays cross the boundary without copies: numpy arrays and torch tensors arrive through
// nanobind's ndarray (buffer protocol / DLPack) and are viewed with at::from_blob; results are
// handed back as DLPack-backed numpy arrays or torch tensors that own their at::Tensor.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "musefm/audio.h"
#include "musefm/encoder.h"
#include "musefm/error.h"
#include "musefm/extract.h"
#include "musefm/features.h"

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
  const char* kind = "unknown";
  switch (nb::dlpack::dtype_code(d.code)) {
    case nb::dlpack::dtype_code::Int:
      kind = "int";
      break;
    case nb::dlpack::dtype_code::UInt:
      kind = "uint";
      break;
    case nb::dlpack::dtype_code::Float:
      kind = "float";
      break;
    case nb::dlpack::dtype_code::Bfloat:
      kind = "bfloat";
      break;
    case nb::dlpack::dtype_code::Complex:
      kind = "complex";
      break;
    case nb::dlpack::dtype_code::Bool:
      return "bool";
    default:
      break;
  }
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

at::Tensor load_waveform(const std::string& path, int sample_rate) {
  musefm::AudioLoadOptions opt;
  opt.target_rate = sample_rate;
  nb::gil_scoped_release release;
  return musefm::waveform_tensor(musefm::load_audio(path, opt));
}

std::string layers_spec(const std::variant<std::string, std::vector<int64_t>>& layers) {
  if (const auto* s = std::get_if<std::string>(&layers)) return *s;
  std::string out;
  for (int64_t i : std::get<std::vector<int64_t>>(layers))
    out += (out.empty() ? "" : ",") + std::to_string(i);
  return out;
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
             double window, double hop, int batch, const std::vector<double>& layer_weights) {
            musefm::ExtractConfig c;
            c.layers = layers_spec(layers);
            c.layer_weights = layer_weights;
            c.pool = musefm::parse_enum<musefm::Pool>(pool, "pool");
            c.window_s = window;
            c.hop_s = hop;
            c.batch = batch;
            c.validate();
            new (self) musefm::Extractor(encoder, c);
          },
          "encoder"_a, "layers"_a = "all", "pool"_a = "mean", "window"_a = 30.0, "hop"_a = 0.0,
          "batch"_a = 1, "layer_weights"_a = std::vector<double>{},
          "layers: 'all', 'weighted' (one output, the weighted sum of every hidden state with\n"
          "`layer_weights`, uniform when empty), or indices such as [0, 6, -1] / '0,6,-1'.\n"
          "pool: 'mean' (average over time) or 'none' (every frame). window: seconds per forward\n"
          "pass (0 = whole input at once); hop: seconds between window starts (0 = window);\n"
          "batch: windows per forward pass. Raises musefm.Error naming the bad field.")
      .def(
          "extract",
          [](const musefm::Extractor& ex, nb::handle wav_or_path) -> nb::object {
            const bool many =
                nb::isinstance<nb::list>(wav_or_path) || nb::isinstance<nb::tuple>(wav_or_path);
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
                    load_waveform(fspath(items[i]), ex.encoder().config().sample_rate);
              else
                inputs[i] = as_tensor(items[i], "Extractor.extract: waveform");
              waves.push_back(inputs[i].tensor);
            }
            std::vector<at::Tensor> outs;
            {
              nb::gil_scoped_release release;
              if (many)
                outs = ex.extract(waves);
              else
                outs.push_back(ex.extract(waves[0]));
            }
            if (!many) return to_python(outs[0], inputs[0].framework);
            nb::list result;
            for (size_t i = 0; i < outs.size(); ++i)
              result.append(to_python(outs[i], inputs[i].framework));
            return result;
          },
          "wav_or_path"_a,
          "Embeddings of one input: a float waveform [L] at the model's sample rate (numpy array\n"
          "or torch tensor) or an audio file path (decoded, mono, resampled). Returns\n"
          "[outputs, hidden] (pool 'mean') or [outputs, T, hidden] (pool 'none'), as numpy for\n"
          "numpy and path inputs and as a torch tensor for torch inputs.\n\n"
          "A list of inputs returns a list of results; their windows run `batch` at a time\n"
          "(padded and masked: one-by-one results up to float rounding).")
      .def_prop_ro("encoder", &musefm::Extractor::encoder, nb::rv_policy::reference_internal,
                   "The Encoder it runs.")
      .def_prop_ro("layers", &musefm::Extractor::layers,
                   "Hidden-state indices read (non-negative; 'weighted': all of them).")
      .def_prop_ro("num_outputs", &musefm::Extractor::num_outputs,
                   "Rows of every result: len(layers), or 1 for 'weighted'.")
      .def_prop_ro(
          "config", [](const musefm::Extractor& ex) { return json_to_dict(ex.config().to_json()); },
          "The ExtractConfig as a dict.");

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
