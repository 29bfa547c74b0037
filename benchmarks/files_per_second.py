#!/usr/bin/env python3
"""Throughput on many files: `musefm extract` against a transformers batch loop.

Writes N clips (default 1,000 x 10 s) cut at seeded offsets from the real-music fixture,
with a seeded gain, as 44.1 kHz FLAC (so both sides decode and resample to 24 kHz, as with
a real catalogue; --rate 24000 writes WAV that needs no resampling). Builds a MERT-style
encoder with random weights in transformers (--model small: the default model's
architecture without its CQT input; 95m: MERT-v1-95M), converts it for musefm, then in
interleaved rounds (every implementation once per round, on the same clips) embeds every clip:
  musefm   `musefm extract DIR --batch B --layers all --pool mean` (length bucketing, loader
           threads "auto", libsoxr HQ resampling); also with --resample best (libsamplerate's
           best sinc, the resampler before this benchmark) and, with --loader-variants, with
           --loader-threads 0 and 1
  peer     the loop a transformers user writes: per batch, soundfile.read + torchaudio
           resample each file, stack, HubertModel(x, output_hidden_states=True) under
           torch.inference_mode(), mean over time of every hidden state, np.save per clip
Both sides write one [layers + 1, hidden] .npy per clip, use the same thread count and batch
size, and are timed from the first file to the last output (musefm: its summary line's
files/s, start-up excluded; peer: the loop, model construction excluded). Prints files/s,
real-time factor and the median per-round ratio, and checks that the two sides' embeddings
agree (cosine of the pooled vectors).

Run: cmake --build build --target musefm_cli &&
     .venv/bin/python benchmarks/files_per_second.py [--clips 1000] [--seconds 10] [--batch 8]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf
import torch
import torchaudio
import transformers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from compare_extract import ARCH, COMMON  # noqa: E402
from musefm_convert.hf_mert import convert_hf_mert  # noqa: E402

SR = 24000


def write_clips(out, n, seconds, rate, seed):
    """n clips of `seconds` from the fixture (tiled), seeded offsets and gains."""
    y, sr = sf.read(os.path.join(ROOT, "tests", "fixtures", "real_music.ogg"), dtype="float32")
    y = y.mean(axis=1) if y.ndim == 2 else y
    if sr != rate:
        y = torchaudio.functional.resample(torch.from_numpy(y), sr, rate).numpy()
    need = int(seconds * rate)
    y = np.tile(y, need // len(y) + 2)
    rng = np.random.default_rng(seed)
    ext = "wav" if rate == SR else "flac"
    os.makedirs(out, exist_ok=True)
    for i in range(n):
        off = int(rng.integers(0, len(y) - need))
        clip = y[off:off + need] * float(rng.uniform(0.3, 1.0))
        sf.write(os.path.join(out, f"clip_{i:05d}.{ext}"), clip, rate)
    return sorted(os.listdir(out))


def run_musefm(cli, clips_dir, model_dir, out, batch, threads, extra=()):
    r = subprocess.run([cli, "extract", clips_dir, "--model", model_dir, "--out-dir", out,
                        "--batch", str(batch), "--threads", str(threads), "--layers", "all",
                        "--pool", "mean", "--overwrite", *extra],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"musefm extract failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    m = re.search(r"([0-9.]+) s of audio in ([0-9.]+) s: ([0-9.]+) files/s", r.stdout)
    if not m:
        sys.exit(f"no summary line in:\n{r.stdout}")
    return float(m.group(3)), float(m.group(1)) / float(m.group(2))


def run_peer(model, clips_dir, files, out, batch):
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    audio_s = 0.0
    with torch.inference_mode():
        for b in range(0, len(files), batch):
            names = files[b:b + batch]
            waves = []
            for f in names:
                y, sr = sf.read(os.path.join(clips_dir, f), dtype="float32")
                x = torch.from_numpy(y)
                if sr != SR:
                    x = torchaudio.functional.resample(x, sr, SR)
                audio_s += len(y) / sr
                waves.append(x)
            n = min(len(w) for w in waves)  # equal-length clips: nothing to pad
            res = model(torch.stack([w[:n] for w in waves]), output_hidden_states=True)
            # The last entry as MERT's code and transformers 4 give it: after the final layer
            # norm of a pre-LN stack (transformers 5 records the layer's output before it).
            hs = res.hidden_states[:-1] + (res.last_hidden_state,)
            pooled = torch.stack([h.mean(1) for h in hs], 1)  # [B, layers + 1, H]
            for f, p in zip(names, pooled):
                np.save(os.path.join(out, os.path.splitext(f)[0] + ".npy"), p.numpy())
    dt = time.perf_counter() - t0
    return len(files) / dt, audio_s / dt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", choices=sorted(ARCH), default="small")
    ap.add_argument("--clips", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=44100, help="sample rate of the clips written")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--loader-variants", action="store_true",
                    help="also run musefm with --loader-threads 0 and 1")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "src", "cli", "musefm"))
    ap.add_argument("--work", help="keep the clips and outputs here (default: a temp folder)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tmp = tempfile.TemporaryDirectory()
    work = args.work or tmp.name
    clips = os.path.join(work, "clips")
    files = write_clips(clips, args.clips, args.seconds, args.rate, 0)
    torch.manual_seed(0)
    hf_dir, model_dir = os.path.join(work, "hf"), os.path.join(work, "musefm_model")
    base = transformers.HubertModel(transformers.HubertConfig(**{**COMMON, **ARCH[args.model]}))
    base.save_pretrained(hf_dir)
    convert_hf_mert(hf_dir, model_dir)
    peer = transformers.HubertModel.from_pretrained(hf_dir, attn_implementation="sdpa").eval()
    variants = {"musefm": ()}  # defaults: the loader threads are "auto"
    if args.loader_variants:
        variants.update({"musefm, --loader-threads 0": ("--loader-threads", "0"),
                         "musefm, --loader-threads 1": ("--loader-threads", "1")})
    if args.rate != SR:
        variants["musefm, --resample best"] = ("--resample", "best")
    rows = {k: [] for k in [*variants, "transformers"]}
    for r in range(args.rounds):
        for i, (name, extra) in enumerate(variants.items()):
            rows[name].append(run_musefm(args.cli, clips, model_dir, os.path.join(work, f"m{i}"),
                                         args.batch, args.threads, extra))
        rows["transformers"].append(run_peer(peer, clips, files, os.path.join(work, "p"),
                                             args.batch))
        print(f"round {r + 1}/{args.rounds}: " +
              ", ".join(f"{k} {v[-1][0]:.2f} files/s" for k, v in rows.items() if v), flush=True)
    cos = []
    for f in files[:: max(1, len(files) // 50)]:
        stem = os.path.splitext(f)[0] + ".npy"
        a = np.load(os.path.join(work, "m0", stem)).ravel()
        b = np.load(os.path.join(work, "p", stem)).ravel()
        cos.append(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
    print(f"\nembeddings musefm vs transformers, {len(cos)} clips: worst cosine {min(cos):.6f} "
          "(the resamplers differ: libsoxr HQ vs torchaudio's sinc)")
    print(f"\n{args.clips} clips x {args.seconds:g} s at {args.rate} Hz, MERT-{args.model} random "
          f"weights, fp32, batch {args.batch}, {args.threads} threads, {args.rounds} interleaved "
          "rounds\n")
    print("| implementation | files/s (median) | real-time factor | musefm speed-up: median of "
          "per-round ratios (min-max) |")
    print("|---|---|---|---|")
    for k, v in rows.items():
        if not v:
            continue
        rs = [m[0] / x[0] for m, x in zip(rows["musefm"], v)]
        print(f"| {k} | {statistics.median(x[0] for x in v):.2f} | "
              f"{statistics.median(x[1] for x in v):.1f}x | {statistics.median(rs):.2f}x "
              f"({min(rs):.2f}-{max(rs):.2f}) |")


if __name__ == "__main__":
    main()
