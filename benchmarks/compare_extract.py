#!/usr/bin/env python3
"""Full-size MERT parity and throughput: musefm's Encoder vs transformers' HubertModel.

Builds MERT-v1-95M (or --model 330m, or small: the default model's architecture) with random weights in transformers, saves and converts it
with tools/convert_checkpoint.py, then runs 30 s of real music (the fixture excerpt tiled)
through transformers (eager and sdpa attention, fp32, torch.no_grad) and through
build/benchmarks/bench_encoder (attention fused, the default, and sdpa) in the same run, with
the same thread count, in interleaved rounds (every implementation once per round, so that the
load of a shared machine reaches all alike). Prints the last-hidden-state difference
(max |d| / max |ref|) and the median of the per-round speed ratios with their range.

Run: tools/setup.sh --tools && cmake --build build --target bench_encoder &&
     .venv/bin/python benchmarks/compare_extract.py [--model 95m|330m|small] [--seconds 30] [--repeats 3]
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
import soundfile as sf
import torch
import transformers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from musefm_convert.hf_mert import convert_hf_mert  # noqa: E402

ARCH = {  # m-a-p/MERT-v1-95M / -330M config.json (shared reference models.md section 1.1)
    "95m": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                intermediate_size=3072, do_stable_layer_norm=False),
    "330m": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                 intermediate_size=4096, do_stable_layer_norm=True),
    # the default model's architecture (configs/pretrain/musefm-small.json)
    "small": dict(conv_dim=[128] * 7, num_conv_pos_embeddings=64, hidden_size=256,
                  num_hidden_layers=6, num_attention_heads=4, intermediate_size=1024,
                  do_stable_layer_norm=True),
}
COMMON = dict(conv_dim=[512] * 7, conv_kernel=[10, 3, 3, 3, 3, 2, 2], conv_stride=[5, 2, 2, 2, 2, 2, 2],
              conv_bias=False, feat_extract_norm="group", feat_proj_layer_norm=True,
              num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16, layer_norm_eps=1e-5,
              hidden_act="gelu", hidden_dropout=0.0, activation_dropout=0.0, attention_dropout=0.0,
              feat_proj_dropout=0.0, layerdrop=0.0, apply_spec_augment=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", choices=sorted(ARCH), default="95m")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()

    y, sr = sf.read(os.path.join(ROOT, "tests", "fixtures", "real_24k.wav"), dtype="float32")
    n = int(args.seconds * sr)
    x = torch.from_numpy(np.tile(y, n // len(y) + 1)[:n].copy()).unsqueeze(0)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        hf_dir, model_dir = os.path.join(tmp, "hf"), os.path.join(tmp, "musefm")
        base = transformers.HubertModel(transformers.HubertConfig(**{**COMMON, **ARCH[args.model]}))
        base.save_pretrained(hf_dir)
        convert_hf_mert(hf_dir, model_dir)
        np.save(os.path.join(tmp, "x.npy"), x.numpy())
        models = {impl: transformers.HubertModel.from_pretrained(hf_dir, attn_implementation=impl)
                  .eval() for impl in ("eager", "sdpa")}
        # Interleaved rounds: each round times every implementation once (musefm in a fresh
        # bench_encoder process: load, one warm-up, one timed forward), so that drift in the
        # machine's load reaches all of them alike. Ratios are taken per round.
        times = {k: [] for k in ("fused", "sdpa", "hf eager", "hf sdpa")}
        for r in range(args.repeats):
            for attention in ("fused", "sdpa"):
                out = subprocess.run([os.path.join(args.build, "benchmarks", "bench_encoder"),
                                      model_dir, os.path.join(tmp, "x.npy"),
                                      os.path.join(tmp, f"y_{attention}.npy"), "1", attention],
                                     check=True, capture_output=True, text=True)
                times[attention].append(json.loads(out.stdout)["median_ms"])
            for impl, model in models.items():
                with torch.no_grad():
                    if r == 0:
                        model(x)  # warm-up
                    times[f"hf {impl}"].append(_time_ms(lambda: model(x)))
            print(f"round {r + 1}/{args.repeats}: " +
                  ", ".join(f"{k} {v[-1]:.0f} ms" for k, v in times.items()), flush=True)
        for attention in ("fused", "sdpa"):
            mine = torch.from_numpy(np.load(os.path.join(tmp, f"y_{attention}.npy")))
            for impl, model in models.items():
                with torch.no_grad():
                    ref = model(x).last_hidden_state[0]
                err = ((mine[0] - ref).abs().max() / ref.abs().max()).item()
                print(f"parity musefm ({attention}) vs transformers {impl}: max|d|/max|ref| = "
                      f"{err:.2e} ({ref.shape[0]} frames x {ref.shape[1]})")
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = {k: statistics.median(a / b for a, b in zip(v, times["fused"])) for k, v in times.items()}
    print("\nreal-time factor (audio seconds per second of compute, median): " +
          ", ".join(f"{k} {args.seconds * 1e3 / m:.1f}x" for k, m in med.items()))
    print(f"\nMERT-v1-{args.model} random weights, {args.seconds:.0f} s, fp32, "
          f"{torch.get_num_threads()} threads (both sides); {args.repeats} interleaved rounds\n")
    print("| implementation | median ms | musefm (fused) speed-up: median of per-round ratios "
          "(min-max) |")
    print("|---|---|---|")
    names = {"hf eager": "transformers HubertModel (eager)",
             "hf sdpa": "transformers HubertModel (sdpa)",
             "fused": "musefm Encoder (attention fused, the default)",
             "sdpa": "musefm Encoder (attention sdpa)"}
    for k in ("hf eager", "hf sdpa", "fused", "sdpa"):
        rs = [a / b for a, b in zip(times[k], times["fused"])]
        print(f"| {names[k]} | {med[k]:.0f} | {ratio[k]:.2f}x ({min(rs):.2f}-{max(rs):.2f}) |")


def _time_ms(fn):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


if __name__ == "__main__":
    main()
