"""musefm.features, Extractor.stream() and musefm.hear: parity with the CLI / the one-shot
extractor, zero-copy where promised, errors as musefm.Error, and the HEAR 2021 API's rules."""

import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import musefm
import musefm.features as F
import musefm.hear as hear

ROOT = Path(os.environ.get("MUSEFM_SOURCE_DIR", Path(__file__).resolve().parents[2]))
WAV = ROOT / "tests" / "fixtures" / "real_24k.wav"
TINY = ROOT / "tests" / "fixtures" / "encoders" / "mert_tiny_postln"


def cli():
    path = os.environ.get("MUSEFM_CLI") or str(ROOT / "build" / "src" / "cli" / "musefm")
    if not os.path.isfile(path):
        pytest.skip("musefm CLI not built (set MUSEFM_CLI)")
    return path


# ---- features --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["mel", "mfcc", "cqt", "chroma"])
def test_features_of_a_file_equal_the_cli(kind, tmp_path):
    out = tmp_path / f"{kind}.npy"
    subprocess.run([cli(), "features", "--kind", kind, str(WAV), "--out", str(out)], check=True,
                   capture_output=True)
    ours = getattr(F, kind)(WAV)
    ref = np.load(out)
    assert ours.dtype == np.float32 and ours.shape == ref.shape
    assert np.array_equal(ours, ref)  # same code path, bit-identical


def test_features_of_an_array_equal_those_of_its_file():
    t = F.FeatureTransform("mel")
    wav = musefm.load_audio(WAV, sample_rate=t.sample_rate)
    assert np.array_equal(t(wav), t(WAV))
    as_torch = t(torch.from_numpy(wav))
    assert isinstance(as_torch, torch.Tensor)
    assert np.array_equal(as_torch.numpy(), t(wav))


def test_features_batch_rows_equal_single_rows():
    t = F.FeatureTransform("cqt")
    wav = musefm.load_audio(WAV)[: 24000 * 2]
    batch = t(np.stack([wav, wav[::-1].copy()]))
    assert batch.shape[0] == 2
    np.testing.assert_allclose(batch[0], t(wav), rtol=0, atol=1e-5)
    np.testing.assert_allclose(batch[1], t(wav[::-1].copy()), rtol=0, atol=1e-5)


def test_feature_config_overrides_and_attributes():
    t = F.FeatureTransform("mel", n_mels=64, sample_rate=16000, hop_length=160)
    assert t.config["n_mels"] == 64 and t.sample_rate == 16000 and t.frame_rate == 100.0
    assert t.kind == "mel"
    y = t(np.zeros(16000, dtype=np.float32))
    assert y.shape[1] == 64


def test_feature_errors_name_the_key_or_the_problem():
    with pytest.raises(musefm.Error, match="unknown key 'bogus'"):
        F.FeatureTransform("mel", bogus=1)
    with pytest.raises(musefm.Error, match="kind"):
        F.FeatureTransform("spectrogram")
    with pytest.raises(musefm.Error, match="floating-point"):
        F.mel(np.zeros(24000, dtype=np.int16))
    with pytest.raises(musefm.Error, match=r"\[L\] or \[B, L\]"):
        F.mel(np.zeros((1, 1, 24000), dtype=np.float32))
    with pytest.raises(musefm.Error, match="nope.wav"):
        F.mfcc("nope.wav")


# ---- resample --------------------------------------------------------------------------------

def test_resample_matches_load_audio():
    native = musefm.load_audio(WAV, sample_rate=0)
    assert np.array_equal(musefm.resample(native, 24000, 16000),
                          musefm.load_audio(WAV, sample_rate=16000))
    two = musefm.resample(torch.from_numpy(np.stack([native, native])), 24000, 48000)
    assert isinstance(two, torch.Tensor) and tuple(two.shape) == (2, 2 * native.shape[0])


# ---- streaming -------------------------------------------------------------------------------

@pytest.mark.parametrize("block", [1000, 7919, 48000])
def test_stream_equals_one_shot_frames(block):
    ex = musefm.Extractor(musefm.Encoder.load(TINY), layers="all", pool="none", window=1.0,
                          hop=0.5)
    wav = musefm.load_audio(WAV)
    stream = ex.stream()
    parts = []
    for i in range(0, wav.shape[0], block):
        stream.accept_waveform(wav[i:i + block])
        parts.append(stream.compute())
        assert stream.samples_buffered <= 3 * 24000 + block  # bounded: about two windows
    parts.append(stream.flush())
    frames = np.concatenate(parts, axis=1)
    one_shot = ex.extract(wav)
    assert frames.shape == one_shot.shape and stream.frames_emitted == one_shot.shape[1]
    assert stream.samples_accepted == wav.shape[0]
    np.testing.assert_allclose(frames, one_shot, rtol=0, atol=1e-5)


def test_stream_keeps_its_extractor_alive_and_returns_torch_for_torch():
    stream = musefm.Extractor(musefm.Encoder.load(TINY), pool="none", window=1.0).stream()
    stream.accept_waveform(torch.zeros(24000 * 2))
    out = stream.flush()
    assert isinstance(out, torch.Tensor) and out.shape[1] > 0


def test_stream_errors():
    stream = musefm.Extractor(musefm.Encoder.load(TINY), pool="none", window=1.0).stream()
    with pytest.raises(musefm.Error):
        stream.flush()  # nothing accepted: shorter than one frame
    stream = musefm.Extractor(musefm.Encoder.load(TINY), pool="none", window=1.0).stream()
    with pytest.raises(musefm.Error, match="floating-point"):
        stream.accept_waveform(np.zeros(100, dtype=np.int32))


# ---- HEAR ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hear_model():
    return hear.load_model(TINY)


def test_hear_model_attributes(hear_model):
    assert isinstance(hear_model, torch.nn.Module)
    assert hear_model.sample_rate in (16000, 22050, 44100, 48000)
    assert isinstance(hear_model.scene_embedding_size, int)
    assert isinstance(hear_model.timestamp_embedding_size, int)
    assert hear_model.to("cpu") is hear_model


def test_hear_timestamp_embeddings_follow_the_spec(hear_model):
    n, seconds = 4, 2.5
    audio = torch.rand(n, int(seconds * hear_model.sample_rate)) * 2 - 1
    emb, ts = hear.get_timestamp_embeddings(audio, hear_model)
    assert emb.dtype == torch.float32 and ts.dtype == torch.float32
    assert emb.shape[0] == n and emb.shape[:2] == ts.shape
    assert emb.shape[2] == hear_model.timestamp_embedding_size
    diff = torch.diff(ts)
    assert torch.all(diff > 0) and torch.all((diff - diff.mean()).abs() < 1e-3)  # regular
    assert diff.mean() <= 50.0  # HEAR suggests <= 50 ms between timestamps
    assert ts.min() >= 0 and ts.max() <= seconds * 1000  # inside the clip
    # each row is that sound's frames, in order, from the encoder at its own rate
    wav = musefm.resample(audio[1], hear_model.sample_rate, 24000)
    ref = musefm.Extractor(musefm.Encoder.load(TINY), layers="weighted", pool="none").extract(wav)
    np.testing.assert_allclose(emb[1].numpy(), ref[0].numpy(), rtol=0, atol=1e-5)


def test_hear_scene_embedding_is_the_mean_of_the_frames(hear_model):
    audio = torch.rand(3, int(3.74 * hear_model.sample_rate)) * 2 - 1
    scene = hear.get_scene_embeddings(audio, hear_model)
    assert scene.dtype == torch.float32
    assert tuple(scene.shape) == (3, hear_model.scene_embedding_size)
    emb, _ = hear.get_timestamp_embeddings(audio, hear_model)
    np.testing.assert_allclose(scene.numpy(), emb.mean(dim=1).numpy(), rtol=0, atol=1e-5)


def test_hear_layers_option_concatenates():
    m = hear.load_model(TINY, layers=[0, -1], sample_rate=16000)
    audio = torch.rand(2, 16000) * 2 - 1
    emb, ts = hear.get_timestamp_embeddings(audio, m)
    assert emb.shape[2] == m.timestamp_embedding_size == 2 * musefm.Encoder.load(TINY).config[
        "hidden_size"]


def test_hear_rejects_bad_audio(hear_model):
    with pytest.raises(ValueError, match="n_sounds, n_samples"):
        hear.get_scene_embeddings(torch.zeros(48000), hear_model)
    with pytest.raises(musefm.Error, match="nope"):
        hear.load_model("nope")


def test_hearvalidator_passes(monkeypatch):
    """The HEAR 2021 validator (hearvalidator) on musefm.hear with the shipped model. The
    validator imports tensorflow for its TF branch only; a stand-in module lets its torch
    branch run where tensorflow is not installed."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        stand_in = types.SimpleNamespace(Module=type("Module", (), {}), device=None)
        monkeypatch.setitem(sys.modules, "tensorflow", stand_in)
    try:
        from hearvalidator import validate
    except ImportError:
        pytest.fail("hearvalidator is not installed (tools/setup.sh installs it)")
    validate.ValidateModel("musefm.hear", "", "cpu")()


def test_bad_sample_rates_raise_musefm_error_with_the_reason():
    with pytest.raises(musefm.Error, match="rate"):
        musefm.load_audio(WAV, sample_rate=-16000)
    with pytest.raises(musefm.Error, match=r"target_rate must be 0 \(keep\) or in"):
        musefm.load_audio(WAV, sample_rate=24000 * 1000)
    with pytest.raises(musefm.Error, match="rates must be positive"):
        musefm.resample(np.zeros(100, dtype=np.float32), 0, 16000)
    with pytest.raises(musefm.Error, match="sample_rate"):
        F.FeatureTransform("mel", sample_rate=0)
