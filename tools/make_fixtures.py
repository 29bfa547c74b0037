#!/usr/bin/env python3
"""Generates the parity fixtures in tests/fixtures/ from the reference Python implementations.

Inputs are real recordings from Debian game-music packages (fetched with `apt-get download`
unless --debs points at a folder holding the .deb files):
  - singularity-music: "Awakening.ogg" (Max McCracken, CC BY-SA 3.0)
  - warzone2100-music: "menu.opus" (GPL-2+)
and General-MIDI renders made by tests/render_midi.sh at test time (see make_midi.py).

Outputs (all small):
  real_music.ogg / real_music.opus      4 s excerpts, re-encoded (decoder tests)
  real_{24k,22k,16k}.wav                3 s mono 16-bit PCM excerpts (parity inputs)
  mel_musicfm.npy                       torchaudio MelSpectrogram(24000, 2048, 240, 128) +
                                        AmplitudeToDB, last frame dropped (MusicFM)
  mel_slaney_22k.npy                    torchaudio MelSpectrogram with Slaney scale + norm, power 1,
                                        constant padding, no dB
  mfcc_hubert_16k.npy                   kaldi.mfcc(use_energy=False) + 2x compute_deltas (fairseq)
  mfcc_nosnip_24k.npy                   kaldi.mfcc(24 kHz, snip_edges=False, hamming, energy)
  cqt_mert.npy / cqt_mert_short.npy     nnAudio CQT(MERT parameters) magnitude, [336, T]
  cqt_librosa.npy                       |librosa.cqt(y, sr=22050)|
  chroma_librosa.npy                    librosa.feature.chroma_cqt(y=y, sr=22050)
  versions.json                         versions of the packages that produced the numbers

Run: tools/setup.sh --tools && .venv/bin/python tools/make_fixtures.py
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf
import soxr
import torch
import torchaudio

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures")
OGG_TRACK = "Awakening.ogg"
OPUS_TRACK = "menu.opus"


def fetch_tracks(debs_dir):
    tmp = tempfile.mkdtemp(prefix="musefm-fixtures-")
    if debs_dir is None:
        debs_dir = tmp
        subprocess.run(["apt-get", "download", "singularity-music", "warzone2100-music"],
                       cwd=tmp, check=True)
    for deb in glob.glob(os.path.join(debs_dir, "*.deb")):
        tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
        # Each package holds one of the two tracks; tar reports the other as missing.
        subprocess.run(["tar", "-x", "-C", tmp, "--wildcards", "--no-anchored", OGG_TRACK,
                        OPUS_TRACK], stdin=tar.stdout, stderr=subprocess.DEVNULL)
        tar.wait()
    found = {}
    for name in (OGG_TRACK, OPUS_TRACK):
        hits = glob.glob(os.path.join(tmp, "**", name), recursive=True)
        if not hits:
            sys.exit(f"make_fixtures: {name} not found in the Debian packages")
        found[name] = sorted(hits)[0]
    return found


def write_excerpts(tracks):
    ogg = os.path.join(OUT, "real_music.ogg")
    subprocess.run(["sox", tracks[OGG_TRACK], ogg, "trim", "30", "4"], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "x.wav")
        subprocess.run(["opusdec", "--quiet", tracks[OPUS_TRACK], wav], check=True)
        cut = os.path.join(tmp, "cut.wav")
        subprocess.run(["sox", wav, cut, "trim", "20", "4"], check=True)
        subprocess.run(["opusenc", "--quiet", "--bitrate", "64", cut,
                        os.path.join(OUT, "real_music.opus")], check=True)
    # Parity inputs: mono, 16-bit PCM so both sides read identical samples.
    y, sr = sf.read(tracks[OGG_TRACK], dtype="float64", always_2d=True)
    y = y[int(30 * sr):int(33 * sr)].mean(axis=1)
    for rate, name in ((24000, "real_24k.wav"), (22050, "real_22k.wav"), (16000, "real_16k.wav")):
        r = soxr.resample(y, sr, rate, quality="VHQ")
        sf.write(os.path.join(OUT, name), np.clip(r, -1, 1), rate, subtype="PCM_16")


def load(name):
    y, sr = sf.read(os.path.join(OUT, name), dtype="float32")
    return torch.from_numpy(y), sr


def save(name, tensor):
    arr = tensor.detach().cpu().numpy() if torch.is_tensor(tensor) else np.asarray(tensor)
    np.save(os.path.join(OUT, name), np.ascontiguousarray(arr, dtype=np.float32))
    print(f"  {name}: {arr.shape}")


def make_mel():
    x, sr = load("real_24k.wav")
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=24000, n_fft=2048, hop_length=240,
                                               n_mels=128)
    db = torchaudio.transforms.AmplitudeToDB()
    save("mel_musicfm.npy", db(mel(x))[..., :-1])  # minzwon/musicfm modules/features.py
    x, sr = load("real_22k.wav")
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=22050, n_fft=1024, hop_length=256,
                                               n_mels=80, f_min=30.0, f_max=8000.0, power=1.0,
                                               pad_mode="constant", norm="slaney",
                                               mel_scale="slaney")
    save("mel_slaney_22k.npy", mel(x))


def kaldi_with_deltas(x, **kw):
    import torchaudio.compliance.kaldi as kaldi
    import torchaudio.functional as F
    m = kaldi.mfcc(x.view(1, -1), **kw).transpose(0, 1)
    d = F.compute_deltas(m)
    dd = F.compute_deltas(d)
    return torch.cat([m, d, dd], dim=0).transpose(0, 1)


def make_mfcc():
    x, sr = load("real_16k.wav")
    # fairseq examples/hubert/simple_kmeans/dump_mfcc_feature.py
    save("mfcc_hubert_16k.npy", kaldi_with_deltas(x, sample_frequency=sr, use_energy=False))
    x, sr = load("real_24k.wav")
    save("mfcc_nosnip_24k.npy", kaldi_with_deltas(x, sample_frequency=sr, use_energy=True,
                                                  snip_edges=False, window_type="hamming"))


def make_cqt():
    from nnAudio.features.cqt import CQT
    x, sr = load("real_24k.wav")
    # yizhilll/MERT mert_model.py model_cqt_pred
    cqt = CQT(sr=24000, hop_length=320, fmin=32.7, fmax=None, n_bins=336, bins_per_octave=48,
              filter_scale=1, norm=1, window="hann", center=True, pad_mode="constant",
              trainable=False, output_format="Magnitude", verbose=False)
    with torch.no_grad():
        save("cqt_mert.npy", cqt(x)[0])
        save("cqt_mert_short.npy", cqt(x[:12000])[0])


def make_librosa():
    import librosa
    x, sr = load("real_22k.wav")
    y = x.numpy()
    save("cqt_librosa.npy", np.abs(librosa.cqt(y, sr=sr)))
    save("chroma_librosa.npy", librosa.feature.chroma_cqt(y=y, sr=sr))
    # A quarter-tone sharp input exercises the tuning estimate.
    t = np.arange(sr * 2) / sr
    sharp = (0.3 * np.sin(2 * np.pi * 440.0 * 2 ** (0.5 / 12) * t)).astype(np.float32)
    sf.write(os.path.join(OUT, "sine_quartertone_22k.wav"), sharp, sr, subtype="FLOAT")
    save("chroma_librosa_sharp.npy", librosa.feature.chroma_cqt(y=sharp, sr=sr))
    save("tuning_librosa_sharp.npy", np.array([librosa.estimate_tuning(y=sharp, sr=sr,
                                                                       bins_per_octave=36)]))
    # estimate_tuning cases of tests/test_parity_librosa.cpp (float64 in a .npy of its own):
    # real clip at 36 and 12 bins/octave; A440 sines at 22528 Hz (440 Hz is FFT bin 40 of the
    # 2048-point STFT) and 22050 Hz, each at 12 and 36 bins/octave.
    def a440(rate):
        return np.sin(np.arange(2 * rate, dtype=np.float64) * (2 * np.pi * 440.0) / rate).astype(np.float32)
    cases = [(y, sr, 36), (y, sr, 12), (a440(22528), 22528, 12), (a440(22528), 22528, 36),
             (a440(22050), 22050, 12), (a440(22050), 22050, 36)]
    values = [librosa.estimate_tuning(y=v, sr=r, bins_per_octave=b) for v, r, b in cases]
    np.save(os.path.join(OUT, "tuning_librosa_cases.npy"), np.array(values, dtype=np.float64))
    print("  tuning_librosa_cases.npy:", values)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--debs", help="folder with singularity-music and warzone2100-music .deb files")
    ap.add_argument("--skip-audio", action="store_true",
                    help="reuse the audio excerpts already in tests/fixtures")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    if not args.skip_audio:
        write_excerpts(fetch_tracks(args.debs))
    make_mel()
    make_mfcc()
    make_cqt()
    make_librosa()
    import librosa
    import nnAudio
    versions = {"torch": torch.__version__, "torchaudio": torchaudio.__version__,
                "nnAudio": getattr(nnAudio, "__version__", "0.3.4"), "librosa": librosa.__version__,
                "soxr": soxr.__version__, "numpy": np.__version__}
    with open(os.path.join(OUT, "versions.json"), "w") as f:
        json.dump(versions, f, indent=2)
    print("versions:", versions)


if __name__ == "__main__":
    main()
