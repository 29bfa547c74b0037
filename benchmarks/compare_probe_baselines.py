#!/usr/bin/env python3
"""Baseline feature speed: `musefm probe --model chroma|mfcc` vs the Python recipe it follows.

Clips: the first --clips lines of each split of a task folder written by
tools/make_probe_data.py (default: the key task, 8 s clips at 24 kHz).

  chroma  musefm: the whole `musefm probe --model chroma --cache none --probe linear --layers 0`
          process (start, decoding, soxr-HQ resampling to 22,050 Hz, chroma_cqt, mean + std
          per clip, and a linear probe on top).
          Python: librosa.load(path, sr=22050) + librosa.feature.chroma_cqt + mean / std, per
          clip, in this process (no probe, no start-up).
  mfcc    musefm: the same process with --model mfcc (16 kHz, HuBERT's Kaldi MFCC + deltas).
          Python: librosa.load(path, sr=16000) + torchaudio.compliance.kaldi.mfcc (HuBERT's
          dump_mfcc_feature settings) + deltas + mean / std.
Both sides use --threads threads. Rounds are interleaved (order reversed every other round);
the speed-up is the median of the per-round ratios (Python time / musefm time), with range.

Run: .venv/bin/python tools/make_probe_data.py --out /tmp/probe --tasks key &&
     .venv/bin/python benchmarks/compare_probe_baselines.py /tmp/probe/key [--clips 40]
"""
import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def subset_task(task_dir, n, root):
    """A task folder with the first n clips of each split (audio linked, not copied)."""
    out = os.path.join(root, os.path.basename(os.path.normpath(task_dir)))
    os.makedirs(out)
    shutil.copy(os.path.join(task_dir, "task.json"), out)
    os.symlink(os.path.abspath(os.path.join(task_dir, "audio")), os.path.join(out, "audio"))
    paths = []
    for split in ("train", "valid", "test"):
        with open(os.path.join(task_dir, split + ".tsv")) as f:
            lines = f.read().splitlines()[: n + 1]
        with open(os.path.join(out, split + ".tsv"), "w") as f:
            f.write("\n".join(lines) + "\n")
        paths += [os.path.join(task_dir, row[0]) for row in csv.reader(lines[1:], delimiter="\t")]
    return out, paths


def python_chroma(paths):
    import librosa
    for p in paths:
        y, sr = librosa.load(p, sr=22050)
        c = librosa.feature.chroma_cqt(y=y, sr=sr)
        np.concatenate([c.mean(1), c.std(1)])


def python_mfcc(paths):
    import librosa
    import torch
    import torchaudio
    for p in paths:
        y, _ = librosa.load(p, sr=16000)
        x = torch.from_numpy(y).unsqueeze(0)
        with torch.no_grad():
            m = torchaudio.compliance.kaldi.mfcc(waveform=x, sample_frequency=16000,
                                                 use_energy=False).transpose(0, 1)
            d = torchaudio.functional.compute_deltas(m)
            dd = torchaudio.functional.compute_deltas(d)
            f = torch.cat([m, d, dd], 0)
            torch.cat([f.mean(1), f.std(1, unbiased=False)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("task", help="task folder from tools/make_probe_data.py")
    ap.add_argument("--clips", type=int, default=40, help="clips per split")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--musefm", default=os.path.join(ROOT, "build", "src", "cli", "musefm"))
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    root = tempfile.mkdtemp(prefix="probe_baselines_")
    try:
        task, paths = subset_task(args.task, args.clips, root)
        python = {"chroma": python_chroma, "mfcc": python_mfcc}
        python["chroma"](paths[:1])  # imports and librosa's caches outside the timing
        python["mfcc"](paths[:1])
        print(f"{len(paths)} clips of {args.task}, {args.threads} threads, {args.rounds} rounds")
        for kind in ("chroma", "mfcc"):
            ratios, times = [], {"musefm": [], "python": []}
            for r in range(args.rounds):
                order = ["musefm", "python"] if r % 2 == 0 else ["python", "musefm"]
                t = {}
                for side in order:
                    t0 = time.perf_counter()
                    if side == "musefm":
                        subprocess.run([args.musefm, "probe", "--model", kind, "--task", task,
                                        "--out", os.path.join(root, "out"), "--cache", "none",
                                        "--probe", "linear", "--layers", "0", "--overwrite",
                                        "--quiet", "--threads", str(args.threads)],
                                       check=True, stdout=subprocess.DEVNULL)
                    else:
                        python[kind](paths)
                    t[side] = time.perf_counter() - t0
                    times[side].append(t[side])
                ratios.append(t["python"] / t["musefm"])
            print(f"{kind}: musefm {statistics.median(times['musefm']):.2f} s "
                  f"({len(paths) / statistics.median(times['musefm']):.1f} clips/s), python "
                  f"{statistics.median(times['python']):.2f} s "
                  f"({len(paths) / statistics.median(times['python']):.1f} clips/s): speed-up "
                  f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})")
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    sys.exit(main())
