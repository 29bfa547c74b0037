#!/usr/bin/env python3
"""bf16 and int8 against fp32, per layer and frame, and the speed of each (inference past fp32).

For MERT-v1-95M and MusicFM shapes with random weights (converted from transformers' HubertModel
and the MusicFM reference, as tools/check_full_size.py builds them) and the shipped
musefm-small: every hidden state of SECONDS of real music (tests/fixtures/real_24k.wav, tiled)
through musefm.Extractor(layers="all", pool="none") at fp32, bf16 and int8. Reports the cosine
similarity of each frame's vector to its fp32 vector (mean and worst frame of every layer), the
median time of each precision (interleaved calls), and for MERT-95M the same audio through
transformers' HubertModel (attn_implementation="sdpa") in fp32 and after
torch.ao.quantization.quantize_dynamic (int8 linear layers) as the peers.

    PYTHONPATH=build/python .venv/bin/python tools/check_precision.py [--seconds 30]
"""

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

import musefm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("cfs", os.path.join(ROOT, "tools", "check_full_size.py"))
cfs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cfs)


def cosines(a, b):
    """Per-frame cosine of [layers, T, H] arrays: [layers, T]."""
    num = (a * b).sum(-1)
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-30
    return num / den


def timed(f, calls):
    out, ms = None, []
    for _ in range(calls):
        t0 = time.perf_counter()
        out = f()
        ms.append((time.perf_counter() - t0) * 1000)
    return out, ms


def check(name, model_dir, wav, calls, peers=None, precisions=("fp32", "bf16", "int8")):
    """Every precision against fp32 (per layer and frame) and the median time of each, with the
    peers (name -> callable) timed in the same interleaved rounds."""
    enc = musefm.Encoder.load(model_dir)
    ex = {p: musefm.Extractor(enc, layers="all", pool="none", window=0.0, precision=p)
          for p in precisions}
    peers = peers or {}
    times = {k: [] for k in list(ex) + list(peers)}
    out = {p: ex[p].extract(wav) for p in ex}  # warm-up
    for f in peers.values():
        f()
    for _ in range(calls):  # interleaved: every implementation sees the same load
        for p in ex:
            out[p], ms = timed(lambda: ex[p].extract(wav), 1)
            times[p] += ms
        for k, f in peers.items():
            times[k] += timed(f, 1)[1]
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n{name}: {out['fp32'].shape[0]} hidden states x {out['fp32'].shape[1]} frames, "
          f"{calls} interleaved calls each")
    for p in precisions[1:]:
        cos = cosines(out[p].astype(np.float64), out["fp32"].astype(np.float64))
        print(f"  {p} vs fp32   layer  cos mean    cos worst frame")
        for i, row in enumerate(cos):
            print(f"  {'':13s}{i:5d}  {row.mean():.6f}  {row.min():.6f} (frame {int(row.argmin())})")
        print(f"  {p}: all layers worst frame {cos.min():.6f}, mean {cos.mean():.6f}")
    print("  median ms: " + ", ".join(f"{k} {v:.0f}" for k, v in med.items()))
    for p in precisions[1:]:
        line = f"  musefm {p}: {med['fp32'] / med[p]:.2f}x musefm fp32"
        for k in peers:
            line += f", {med[k] / med[p]:.2f}x {k}"
        print(line, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=["small", "mert95m", "musicfm"], action="append")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    musefm.keep_freed_memory_for_reuse()
    wav = cfs.load_audio(args.seconds)
    parts = args.only or ["small", "mert95m", "musicfm"]
    with tempfile.TemporaryDirectory() as tmp:
        if "small" in parts:
            check("musefm-small (trained, shipped)", os.path.join(ROOT, "models", "musefm-small"),
                  wav, args.calls)
        if "mert95m" in parts:
            import transformers
            hf_dir, model_dir = cfs.build_mert(tmp, "95m")
            hf = transformers.HubertModel.from_pretrained(hf_dir, attn_implementation="sdpa").eval()
            x = torch.from_numpy(wav)[None]

            hf_int8 = torch.ao.quantization.quantize_dynamic(hf, {torch.nn.Linear}, dtype=torch.qint8)

            def run(model):
                def f():
                    with torch.inference_mode():
                        return model(x, output_hidden_states=True).hidden_states
                return f

            check("MERT-v1-95M shape (random weights)", model_dir, wav, args.calls,
                  {"transformers sdpa fp32": run(hf), "transformers sdpa int8 (quantize_dynamic)": run(hf_int8)})
            del hf, hf_int8
        if "musicfm" in parts:
            _, model_dir = cfs.build_musicfm(tmp)
            check("MusicFM shape (random weights)", model_dir, wav, args.calls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
