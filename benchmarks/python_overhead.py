#!/usr/bin/env python3
"""Python call overhead of musefm's module against the same C++ call (issue: Python package).

The same 30 s waveform through the same Extractor settings (default: 30 s windows, every
layer, mean over time) with the same thread count, timed per call:
  C++     benchmarks/bench_extract (Extractor::extract, in its own process)
  Python  musefm.Extractor(...).extract(numpy array) in this process
Rounds alternate (C++, Python, C++, ...) so both sides see the same machine load; the overhead
is the ratio of the medians of all calls, minus 1. That ratio carries the machine's noise (two
processes, seconds apart), so the script also measures the overhead inside each Python call:
Extractor._extract_timed returns the seconds spent in the C++ Extractor::extract, and the rest
of the Python call (argument conversion, GIL release and re-acquire, result wrapping) is the
binding's cost, exactly, call by call.

    python benchmarks/python_overhead.py [--model DIR] [--seconds 30] [--rounds 4] [--calls 5]
Needs PYTHONPATH=build/python (or an installed musefm) and the build's bench_extract.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import musefm

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "musefm-small"))
    ap.add_argument("--bench", default=str(ROOT / "build" / "benchmarks" / "bench_extract"))
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--calls", type=int, default=5, help="timed calls per round (after a warm-up)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    musefm.keep_freed_memory_for_reuse()  # bench_extract does the same, as the CLI
    enc = musefm.Encoder.load(args.model)
    real = musefm.load_audio(ROOT / "tests" / "fixtures" / "real_24k.wav",
                             sample_rate=enc.sample_rate)
    n = int(args.seconds * enc.sample_rate)
    wav = np.ascontiguousarray(np.tile(real, n // real.shape[0] + 1)[:n])  # real music, tiled
    ex = musefm.Extractor(enc)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    cpp, py, inner = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        npy = Path(tmp) / "wav.npy"
        np.save(npy, wav)
        ref = None
        for r in range(args.rounds):
            out = subprocess.run([args.bench, args.model, str(npy), str(args.calls)], env=env,
                                 check=True, capture_output=True, text=True).stdout
            rec = json.loads(out)
            cpp += rec["ms"]
            assert rec["threads"] == args.threads, rec
            y = ex.extract(wav)  # warm-up, as bench_extract's
            for _ in range(args.calls):
                t0 = time.perf_counter()
                y = ex.extract(wav)
                py.append((time.perf_counter() - t0) * 1000)
            for _ in range(args.calls):
                t0 = time.perf_counter()
                y, seconds = ex._extract_timed(wav)
                inner.append(((time.perf_counter() - t0) * 1000, seconds * 1000))
            assert list(y.shape) == rec["shape"], (y.shape, rec["shape"])
            print(f"round {r + 1}: C++ median {statistics.median(rec['ms']):.1f} ms, Python "
                  f"median {statistics.median(py[-args.calls:]):.1f} ms", flush=True)
    c, p = statistics.median(cpp), statistics.median(py)
    print(f"{args.seconds:g} s, {Path(args.model).name}, {args.threads} threads, "
          f"{len(cpp)} + {len(py)} calls: C++ {c:.1f} ms, Python {p:.1f} ms, "
          f"overhead {100 * (p / c - 1):+.2f} % (two processes)")
    binding = [total - cxx for total, cxx in inner]
    share = [b / cxx for b, (_, cxx) in zip(binding, inner)]
    print(f"inside the Python call ({len(inner)} calls): C++ Extractor::extract median "
          f"{statistics.median(x for _, x in inner):.1f} ms, binding (the rest of the call) "
          f"median {statistics.median(binding):.3f} ms, max {max(binding):.3f} ms = "
          f"{100 * statistics.median(share):.3f} % (max {100 * max(share):.3f} %) of the C++ time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
