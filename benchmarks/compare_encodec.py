#!/usr/bin/env python3
"""EnCodec 24 kHz codes: musefm's EncodecTeacher vs the PyPI `encodec` package, real-time factor.

Builds the released architecture (EncodecModel.encodec_model_24khz(pretrained=False)) with
seeded random weights (tools/check_encodec_full.py, which also checks parity at full size),
converts it with tools/convert_checkpoint.py encodec, and times codes at --bandwidth kbps
(default 6: 8 codebooks) on --seconds of real music (the fixture excerpt tiled):
  encodec   model.set_target_bandwidth(bw); model.encode(x) under torch.no_grad(), fp32
  musefm    build/benchmarks/bench_encodec: EncodecTeacher::codes(x, bw) in a fresh process
            (load, one warm-up call, one timed call), encoder chunks of --chunk frames
with the same intra-op thread count on both sides (--threads, default 2), in interleaved
rounds (each implementation once per round, so that drift in the machine's load reaches both
alike). RTF = processing time / audio duration (lower is faster). Prints a Markdown table with
median and minimum times, the median of the per-round speed ratios and their range, and the
codes' agreement. On a shared machine read the ratios and the minima, not single rounds.

Run: .venv/bin/pip install encodec==0.1.1 && cmake --build build --target bench_encodec &&
     .venv/bin/python benchmarks/compare_encodec.py [--seconds 30] [--repeats 5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from check_encodec_full import full_model, tiled_input  # noqa: E402
from musefm_convert.encodec import convert_encodec  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--bandwidth", type=float, default=6.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=750,
                    help="musefm encoder chunk in frames (default 750 = 10 s; 0 = one pass)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    x = tiled_input(args.seconds)
    model = full_model(x[: 10 * 24000].reshape(1, 1, -1))
    model.set_target_bandwidth(args.bandwidth)
    times = {"encodec": [], "musefm": []}
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        source, model_dir = os.path.join(tmp, "encodec_24khz.th"), os.path.join(tmp, "model")
        torch.save(model.state_dict(), source)
        convert_encodec(source, model_dir)
        np.save(os.path.join(tmp, "x.npy"), x.unsqueeze(0).numpy())
        wav = x.reshape(1, 1, -1)
        model.encode(wav)  # warm-up
        for r in range(args.repeats):
            run = subprocess.run([os.path.join(args.build, "benchmarks", "bench_encodec"),
                                  model_dir, os.path.join(tmp, "x.npy"),
                                  os.path.join(tmp, "codes.npy"), "1", str(args.bandwidth),
                                  str(args.chunk)],
                                 check=True, capture_output=True, text=True, env=env)
            info = json.loads(run.stdout)
            assert info["threads"] == args.threads, info
            times["musefm"].append(info["median_ms"])
            t0 = time.perf_counter()
            frames = model.encode(wav)
            times["encodec"].append((time.perf_counter() - t0) * 1e3)
            print(f"round {r + 1}/{args.repeats}: " +
                  ", ".join(f"{k} {v[-1]:.0f} ms" for k, v in times.items()), flush=True)
        ref = frames[0][0]
        mine = torch.from_numpy(np.load(os.path.join(tmp, "codes.npy"))).long()
        same = (mine == ref).double().mean().item() if mine.shape == ref.shape else 0.0
    n_q = ref.shape[1]
    print(f"\nEnCodec 24 kHz architecture, random weights, codes at {args.bandwidth:g} kbps "
          f"({n_q} codebooks), {args.seconds:.0f} s of audio, fp32 CPU, {args.threads} threads "
          f"(both sides), {args.repeats} interleaved rounds; codes equal to encodec's: "
          f"{100 * same:.3f}%\n")
    print("| implementation | median ms | min ms | RTF (median) | musefm speed-up: median of "
          "per-round ratios (min-max) |")
    print("|---|---|---|---|---|")
    names = {"encodec": "encodec 0.1.1 `EncodecModel.encode`",
             "musefm": f"musefm `EncodecTeacher::codes` (chunk {args.chunk} frames)"}
    for k in ("encodec", "musefm"):
        rs = [a / b for a, b in zip(times[k], times["musefm"])]
        med = statistics.median(times[k])
        print(f"| {names[k]} | {med:.0f} | {min(times[k]):.0f} | {med / 1e3 / args.seconds:.4f} | "
              f"{statistics.median(rs):.2f}x ({min(rs):.2f}-{max(rs):.2f}) |")


if __name__ == "__main__":
    main()
