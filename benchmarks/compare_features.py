#!/usr/bin/env python3
"""Side-by-side timing of musefm's feature front-ends and their Python peers, in one run.

Both sides process the same 30 s of real music (the fixture excerpt tiled) on the CPU with the
same number of threads; musefm is timed by its Google Benchmark binary, the peers here with
the median of several runs. Prints a Markdown table with peer/musefm ratios (> 1: musefm faster).

Run: tools/setup.sh --tools && cmake --build build --target bench_features &&
     .venv/bin/python benchmarks/compare_features.py [--build build] [--repeats 5]
"""
import argparse
import json
import os
import subprocess

import numpy as np
import soundfile as sf
import torch

from peer_timing import median_ms

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")


def music(name, seconds=30.0):
    y, sr = sf.read(os.path.join(FIX, name), dtype="float32")
    n = int(seconds * sr)
    return np.tile(y, n // len(y) + 1)[:n].copy(), sr


def peers(repeats):
    import librosa
    import torchaudio
    import torchaudio.compliance.kaldi as kaldi
    import torchaudio.functional as F
    from nnAudio.features.cqt import CQT

    out = {}
    y24, _ = music("real_24k.wav")
    x24 = torch.from_numpy(y24)
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=24000, n_fft=2048, hop_length=240,
                                               n_mels=128)
    db = torchaudio.transforms.AmplitudeToDB()
    with torch.no_grad():
        out["BM_MelMusicFm30s"] = ("torchaudio MelSpectrogram+AmplitudeToDB",
                                   median_ms(lambda: db(mel(x24))[..., :-1], repeats))
    y16, _ = music("real_16k.wav")
    x16 = torch.from_numpy(y16).view(1, -1)

    def mfcc():
        m = kaldi.mfcc(x16, sample_frequency=16000, use_energy=False).transpose(0, 1)
        d = F.compute_deltas(m)
        return torch.cat([m, d, F.compute_deltas(d)], 0)

    out["BM_MfccHubert30s"] = ("torchaudio kaldi.mfcc + 2x compute_deltas",
                               median_ms(mfcc, repeats))
    cqt = CQT(sr=24000, hop_length=320, fmin=32.7, n_bins=336, bins_per_octave=48, norm=1,
              window="hann", center=True, pad_mode="constant", verbose=False)
    with torch.no_grad():
        out["BM_CqtMert30s"] = ("nnAudio CQT1992v2 (MERT parameters)",
                                median_ms(lambda: cqt(x24), max(1, repeats // 2)))
    y22, sr22 = music("real_22k.wav")
    out["BM_LibrosaCqt30s"] = ("librosa.cqt (defaults)",
                               median_ms(lambda: librosa.cqt(y22, sr=sr22), repeats))
    out["BM_Chroma30s"] = ("librosa.feature.chroma_cqt (defaults)",
                           median_ms(lambda: librosa.feature.chroma_cqt(y=y22, sr=sr22), repeats))
    return out


def ours(build, repeats):
    exe = os.path.join(build, "benchmarks", "bench_features")
    res = subprocess.run([exe, "--benchmark_format=json", f"--benchmark_repetitions={repeats}",
                          "--benchmark_report_aggregates_only=true"],
                         check=True, capture_output=True, text=True)
    data = json.loads(res.stdout)
    times = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") == "median":
            unit = {"ms": 1.0, "us": 1e-3, "ns": 1e-6, "s": 1e3}[b["time_unit"]]
            times[b["run_name"]] = b["real_time"] * unit
    return times, data["context"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    mine, ctx = ours(args.build, args.repeats)
    theirs = peers(args.repeats)
    print(f"CPU: {ctx.get('num_cpus')} x {ctx.get('mhz_per_cpu')} MHz; torch threads "
          f"{torch.get_num_threads()}; 30 s of music; medians of {args.repeats}\n")
    print("| front-end | peer | peer ms | musefm ms | speed-up |")
    print("|---|---|---|---|---|")
    for name, (peer, peer_ms) in theirs.items():
        if name not in mine:
            print(f"| {name} | {peer} | {peer_ms:.1f} | – | – |")
            continue
        print(f"| {name} | {peer} | {peer_ms:.1f} | {mine[name]:.1f} | "
              f"{peer_ms / mine[name]:.1f}x |")


if __name__ == "__main__":
    main()
