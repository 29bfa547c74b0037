#!/usr/bin/env python3
"""Full-size MERT parity and throughput: musefm's Encoder vs transformers' HubertModel.

Builds MERT-v1-95M (or --model 330m) with random weights in transformers, saves and converts it
with tools/convert_checkpoint.py, then runs 30 s of real music (the fixture excerpt tiled)
through transformers (eager and sdpa attention, fp32, torch.no_grad) and through
build/benchmarks/bench_encoder (attention fused, the default, and sdpa) in the same run, with
the same thread count. Prints the
last-hidden-state difference (max |d| / max |ref|) and the throughput ratios.

Run: tools/setup.sh --tools && cmake --build build --target bench_encoder &&
     .venv/bin/python benchmarks/compare_extract.py [--model 95m|330m] [--seconds 30] [--repeats 3]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf
import torch
import transformers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from convert_checkpoint import convert_hf_mert  # noqa: E402
from peer_timing import median_ms  # noqa: E402

ARCH = {  # m-a-p/MERT-v1-95M / -330M config.json (shared reference models.md section 1.1)
    "95m": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                intermediate_size=3072, do_stable_layer_norm=False),
    "330m": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                 intermediate_size=4096, do_stable_layer_norm=True),
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
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        hf_dir, model_dir = os.path.join(tmp, "hf"), os.path.join(tmp, "musefm")
        base = transformers.HubertModel(transformers.HubertConfig(**COMMON, **ARCH[args.model]))
        base.save_pretrained(hf_dir)
        convert_hf_mert(hf_dir, model_dir)
        np.save(os.path.join(tmp, "x.npy"), x.numpy())
        ours, alternatives = None, {}
        for attention in ("fused", "sdpa"):  # the default first, then the alternative
            out = subprocess.run([os.path.join(args.build, "benchmarks", "bench_encoder"),
                                  model_dir, os.path.join(tmp, "x.npy"),
                                  os.path.join(tmp, f"y_{attention}.npy"), str(args.repeats),
                                  attention], check=True, capture_output=True, text=True)
            alternatives[attention] = json.loads(out.stdout)
        ours = alternatives["fused"]
        os.replace(os.path.join(tmp, "y_fused.npy"), os.path.join(tmp, "y.npy"))
        mine = torch.from_numpy(np.load(os.path.join(tmp, "y.npy")))
        for impl in ("eager", "sdpa"):
            model = transformers.HubertModel.from_pretrained(hf_dir, attn_implementation=impl).eval()
            with torch.no_grad():
                ref = model(x).last_hidden_state[0]
                results[impl] = median_ms(lambda: model(x), args.repeats)
            err = ((mine[0] - ref).abs().max() / ref.abs().max()).item()
            print(f"parity vs transformers {impl}: max|d|/max|ref| = {err:.2e} "
                  f"({ref.shape[0]} frames x {ref.shape[1]})")
    print(f"\nMERT-v1-{args.model} random weights, {args.seconds:.0f} s, fp32, "
          f"{torch.get_num_threads()} threads (musefm {ours['threads']}); medians of {args.repeats}\n")
    print("| implementation | ms | musefm speed-up |")
    print("|---|---|---|")
    for impl, ms in results.items():
        print(f"| transformers HubertModel ({impl}) | {ms:.0f} | {ms / ours['median_ms']:.2f}x |")
    print(f"| musefm Encoder (attention fused, the default) | {ours['median_ms']:.0f} | 1.00x |")
    sdpa_ms = alternatives["sdpa"]["median_ms"]
    print(f"| musefm Encoder (attention sdpa) | {sdpa_ms:.0f} | {sdpa_ms / ours['median_ms']:.2f}x |")


if __name__ == "__main__":
    main()
