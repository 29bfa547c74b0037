"""Tests of the musefm Python package on the repository's fixtures.

Run from a build tree (ctest -R python_api sets PYTHONPATH and MUSEFM_CLI) or against an
installed package: MUSEFM_CLI=build/src/cli/musefm python -m pytest python/tests
"""

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import musefm

ROOT = Path(os.environ.get("MUSEFM_SOURCE_DIR", Path(__file__).resolve().parents[2]))
FIXTURES = ROOT / "tests" / "fixtures"
WAV = FIXTURES / "real_24k.wav"
TINY = FIXTURES / "encoders" / "mert_tiny_postln"
SMALL = ROOT / "models" / "musefm-small"


def cli():
    path = os.environ.get("MUSEFM_CLI") or str(ROOT / "build" / "src" / "cli" / "musefm")
    if not os.path.isfile(path):
        pytest.skip("musefm CLI not built (set MUSEFM_CLI)")
    return path


@pytest.fixture(scope="module")
def tiny():
    return musefm.Encoder.load(TINY)


@pytest.fixture(scope="module")
def small():
    return musefm.Encoder.load_default()


# ---- audio -----------------------------------------------------------------------------------

def test_load_audio_float32_mono():
    wav = musefm.load_audio(WAV)
    assert isinstance(wav, np.ndarray)
    assert wav.dtype == np.float32 and wav.ndim == 1
    assert wav.shape[0] == 3 * 24000
    assert np.abs(wav).max() <= 1.0
    half = musefm.load_audio(str(WAV), sample_rate=12000)
    assert abs(half.shape[0] - 3 * 12000) <= 1


def test_load_audio_missing_file_names_it(tmp_path):
    missing = tmp_path / "nope.wav"
    with pytest.raises(musefm.Error, match="nope.wav"):
        musefm.load_audio(missing)
    assert issubclass(musefm.Error, RuntimeError)


def test_load_audio_not_audio(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is not a wav file")
    with pytest.raises(musefm.Error, match="bad.wav"):
        musefm.load_audio(bad)


# ---- encoder ---------------------------------------------------------------------------------

def test_config_is_a_dict(tiny):
    c = tiny.config
    assert isinstance(c, dict)
    assert c["model_type"] == "mert" and c["sample_rate"] == 24000


def test_forward_matches_reference_hidden_states(tiny):
    x = np.load(TINY / "input.npy")
    ref = np.load(TINY / "hidden_states.npy")
    last = np.load(TINY / "last_hidden_state.npy")
    hs = tiny.forward(x)
    assert isinstance(hs, list) and len(hs) == ref.shape[0]
    assert tiny.num_frames(x.shape[1]) == ref.shape[2]
    for i, h in enumerate(hs):
        expected = last if i + 1 == len(hs) else ref[i]
        assert isinstance(h, np.ndarray) and h.dtype == np.float32
        assert h.shape == expected.shape
        np.testing.assert_allclose(h, expected, rtol=1e-4, atol=1e-4)
    assert len(tiny.forward(x, num_states=2)) == 2


def test_forward_torch_in_torch_out(tiny):
    x = np.load(TINY / "input.npy")
    hs_np = tiny.forward(x)
    hs_t = tiny.forward(torch.from_numpy(x))
    assert all(isinstance(h, torch.Tensor) for h in hs_t)
    for a, b in zip(hs_np, hs_t):
        assert np.array_equal(a, b.numpy())
    one = tiny.forward(torch.from_numpy(x[0]))  # [L] -> [1, T, H]
    assert one[0].shape[0] == 1


def test_zero_copy_torch():
    x = torch.randn(1000)
    ptr, y = musefm._musefm._roundtrip(x)
    assert ptr == x.data_ptr()
    assert isinstance(y, torch.Tensor) and y.data_ptr() == x.data_ptr()
    xs = torch.randn(4, 100)[:, ::2]  # strided view: shared too
    ptr, y = musefm._musefm._roundtrip(xs)
    assert ptr == xs.data_ptr() and y.data_ptr() == xs.data_ptr()
    assert torch.equal(y, xs)


def test_zero_copy_numpy():
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    ptr, y = musefm._musefm._roundtrip(x)
    assert ptr == x.ctypes.data
    assert isinstance(y, np.ndarray) and np.shares_memory(x, y)
    del x  # the result keeps the caller's memory alive
    assert y.shape == (1000,) and np.isfinite(y).all()


def test_results_own_their_memory(tiny):
    x = np.load(TINY / "input.npy")
    hs = tiny.forward(x)
    t = tiny.forward(torch.from_numpy(x))
    del tiny
    assert all(np.isfinite(h).all() for h in hs)
    assert all(torch.isfinite(h).all() for h in t)


def test_bad_dtype(tiny):
    with pytest.raises(musefm.Error, match="dtype int16"):
        tiny.forward(np.zeros(8000, dtype=np.int16))
    with pytest.raises(musefm.Error, match="dtype int64"):
        tiny.forward(torch.zeros(8000, dtype=torch.int64))


def test_strided_and_reversed_inputs(tiny):
    x = np.load(TINY / "input.npy")
    expected = tiny.forward(np.ascontiguousarray(x))[-1]
    assert np.array_equal(tiny.forward(np.asfortranarray(x))[-1], expected)
    rev = np.ascontiguousarray(x[:, ::-1])
    assert np.array_equal(tiny.forward(x[:, ::-1])[-1], tiny.forward(rev)[-1])
    t = torch.from_numpy(x[0]).flip(0)
    assert torch.equal(tiny.forward(t)[-1], tiny.forward(t.contiguous())[-1])


def test_float64_is_converted(tiny):
    x = np.load(TINY / "input.npy")
    a = tiny.forward(x)[-1]
    b = tiny.forward(x.astype(np.float64))[-1]
    assert np.array_equal(a, b)


def test_bad_shape(tiny):
    with pytest.raises(musefm.Error, match="Encoder"):
        tiny.forward(np.zeros((1, 2, 8000), dtype=np.float32))
    with pytest.raises(musefm.Error, match="empty"):
        tiny.forward(np.zeros(0, dtype=np.float32))
    with pytest.raises(musefm.Error, match="shorter than one frame"):
        tiny.forward(np.zeros(10, dtype=np.float32))
    with pytest.raises(musefm.Error, match="numpy array or torch tensor"):
        tiny.forward([0.0] * 8000)


def test_load_missing_model_names_the_file(tmp_path):
    with pytest.raises(musefm.Error, match="no such file") as e:
        musefm.Encoder.load(tmp_path)
    assert str(tmp_path) in str(e.value)


def test_forward_releases_the_gil(tiny):
    x = np.load(TINY / "input.npy")
    expected = tiny.forward(x)[-1]
    results = [None] * 4

    def run(i):
        results[i] = tiny.forward(x)[-1]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(r, expected) for r in results)


# ---- extractor -------------------------------------------------------------------------------

def test_extract_path_equals_array(tiny):
    ex = musefm.Extractor(tiny, layers=[0, -1], pool="mean")
    assert ex.layers == [0, 2] and ex.num_outputs == 2
    a = ex.extract(WAV)
    b = ex.extract(musefm.load_audio(WAV))
    c = ex.extract(torch.from_numpy(musefm.load_audio(WAV)))
    assert a.shape == (2, 64) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert isinstance(c, torch.Tensor) and np.array_equal(a, c.numpy())
    frames = musefm.Extractor(tiny, layers="0,-1", pool="none").extract(str(WAV))
    assert frames.shape == (2, tiny.num_frames(3 * 24000), 64)
    np.testing.assert_allclose(frames.mean(axis=1), a, rtol=1e-5, atol=1e-6)
    both = musefm.Extractor(tiny, layers=[0, -1], pool="mean+std").extract(WAV)
    assert both.shape == (2, 128)
    np.testing.assert_allclose(both[:, :64], a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(both[:, 64:], frames.std(axis=1), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_extract_lower_precision_stays_close_to_fp32(tiny, precision):
    fp32 = musefm.Extractor(tiny, pool="none").extract(WAV).astype(np.float64)
    low = musefm.Extractor(tiny, pool="none", precision=precision).extract(WAV).astype(np.float64)
    assert low.dtype == np.float64 and low.shape == fp32.shape and not np.array_equal(low, fp32)
    cos = (low * fp32).sum(-1) / (np.linalg.norm(low, axis=-1) * np.linalg.norm(fp32, axis=-1))
    assert cos.min() >= (0.999 if precision == "bf16" else 0.99)


def test_extract_list_batches(tiny):
    wav = musefm.load_audio(WAV)
    inputs = [WAV, wav[:30000], torch.from_numpy(wav[5000:20000].copy())]
    one_by_one = [musefm.Extractor(tiny).extract(x) for x in inputs]
    batched = musefm.Extractor(tiny, batch=3).extract(inputs)
    assert isinstance(batched, list) and len(batched) == 3
    assert isinstance(batched[0], np.ndarray) and isinstance(batched[2], torch.Tensor)
    for a, b in zip(one_by_one, batched):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-5)
    with pytest.raises(musefm.Error, match="missing.wav"):
        musefm.Extractor(tiny, batch=2).extract([WAV, FIXTURES / "missing.wav"])


def test_extract_resamples_files_with_the_chosen_resampler(tiny):
    ogg = FIXTURES / "real_music.ogg"  # 48 kHz
    soxr = musefm.Extractor(tiny).extract(ogg)
    assert musefm.Extractor(tiny).config["resample"] == "soxr-hq"
    expect = musefm.Extractor(tiny).extract(musefm.resample(
        musefm.load_audio(ogg, sample_rate=0), 48000, 24000, quality="soxr-hq"))
    np.testing.assert_allclose(soxr, expect, rtol=1e-5, atol=1e-6)
    best = musefm.Extractor(tiny, resample="best").extract(ogg)
    np.testing.assert_allclose(best, musefm.Extractor(tiny).extract(musefm.load_audio(ogg)),
                               rtol=1e-5, atol=1e-6)  # load_audio resamples with "best"
    assert not np.array_equal(best, soxr)
    with pytest.raises(musefm.Error, match="resample"):
        musefm.Extractor(tiny, resample="sharp")


def test_extract_config_and_errors(tiny):
    ex = musefm.Extractor(tiny, window=1.0, hop=0.5, batch=2)
    assert ex.config["window_s"] == 1.0 and ex.config["batch"] == 2
    assert ex.extract(WAV).shape == (3, 64)
    with pytest.raises(musefm.Error, match="pool"):
        musefm.Extractor(tiny, pool="max")
    with pytest.raises(musefm.Error, match="hop_s"):
        musefm.Extractor(tiny, window=1.0, hop=2.0)
    with pytest.raises(musefm.Error, match="out of range"):
        musefm.Extractor(tiny, layers=[7])
    with pytest.raises(musefm.Error, match="missing.wav"):
        ex.extract(FIXTURES / "missing.wav")
    with pytest.raises(musefm.Error, match="1-D"):
        ex.extract(np.zeros((2, 24000), dtype=np.float32))


# ---- parity with the CLI ---------------------------------------------------------------------

# Files longer than a window are streamed by the CLI (ExtractStream, musefm/extract_files.h):
# the same frames, bit for bit, but the mean is summed in float64 block by block, so the
# windowed mean agrees to float rounding only.
@pytest.mark.parametrize(
    "model,args,kwargs,exact",
    [
        (None, [], {}, True),
        (TINY, ["--layers", "0,-1", "--pool", "none"], {"layers": [0, -1], "pool": "none"}, True),
        (TINY, ["--window", "1", "--hop", "0.5", "--pool", "none"],
         {"window": 1.0, "hop": 0.5, "pool": "none"}, True),
        (TINY, ["--window", "1", "--hop", "0.5"], {"window": 1.0, "hop": 0.5}, False),
    ],
)
def test_parity_with_cli(tmp_path, small, model, args, kwargs, exact):
    cmd = [cli(), "extract", str(WAV), "-o", str(tmp_path)] + args
    if model is not None:
        cmd += ["-m", str(model)]
    subprocess.run(cmd, check=True, capture_output=True)
    expected = np.load(tmp_path / "real_24k.npy")
    enc = small if model is None else musefm.Encoder.load(model)
    got = musefm.Extractor(enc, **kwargs).extract(WAV)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    if exact:
        assert np.array_equal(got, expected), np.abs(got - expected).max()
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_default_model(small):
    assert small.config["hidden_size"] == 256
    emb = musefm.Extractor(small).extract(WAV)
    assert emb.shape == (small.config["num_hidden_layers"] + 1, 256)


# ---- import ----------------------------------------------------------------------------------

def _imported(code):
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                         capture_output=True, text=True, check=True, env=os.environ.copy())
    names = set()
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name.split(".")[0])
    return names


def test_import_adds_nothing_beyond_torch_and_numpy():
    base = _imported("import torch, numpy")
    extra = _imported("import musefm") - base
    assert extra <= {"musefm"}, extra
