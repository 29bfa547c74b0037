#!/usr/bin/env python3
"""Pretraining-step throughput: musefm's C++ MERT step vs the same step in PyTorch (Python).

Both sides train the same encoder (a musefm EncoderConfig JSON, mapped onto
transformers.HubertConfig with every dropout and layerdrop at 0) on one fixed batch of real
music (tests/fixtures/real_24k.wav tiled, a different offset per item) with MERT's objective
(shared reference models.md section 1.5): HuBERT-style NCE per codebook on masked frames
(cosine(final_proj(x), label_embs) / logit_temp, cross-entropy over all K codes, summed),
CQT-magnitude regression (Linear(H, 336) vs nnAudio CQT, MERT parameters, computed every step)
and the feature penalty; AdamW (0.9, 0.98), eps 1e-6, wd 0.01, grad-norm clip 10; fp32, CPU,
the same thread count on both sides.

musefm is timed by <build>/benchmarks/bench_pretrain (a fresh process per round; it prints one
JSON object on its last stdout line: {"step_seconds": [...], "median_s", "loss_first",
"loss_last"}); the peer is a Python loop over transformers.HubertModel's modules, timed in
two variants that differ only in how the [M, K] cosine logits are computed (`--peer-nce`):
"cosine" broadcasts F.cosine_similarity over [M, K, D] as fairseq's HuBERT (and so MERT's
training code) does, "matmul" normalizes and multiplies (same values to ~1e-7, far less
memory traffic). Rounds are interleaved: each round runs every side once (fresh model,
`--warmup` untimed steps, `--steps` timed steps; the order reverses every other round), so
drift in a shared machine's load reaches all alike. The speed-up is the median of the
per-round ratios, with their range.

Run: tools/setup.sh --tools && cmake --build build --target bench_pretrain &&
     .venv/bin/python benchmarks/compare_pretrain.py --model-config configs/tiny-mert.json
Peer only (no C++ binary needed; prints per-step times and losses):
     .venv/bin/python benchmarks/compare_pretrain.py --peer-only --peer-nce matmul --steps 20
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
import transformers
from nnAudio.features.cqt import CQT
from transformers.models.hubert.modeling_hubert import _compute_mask_indices

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR = 24000  # MERT-v1 sample rate (models.md 1.1)
CQT_BINS = 336  # MERT CQT target: 7 octaves x 48 bins (models.md 6)
ZERO_DROPOUT = dict(hidden_dropout=0.0, activation_dropout=0.0, attention_dropout=0.0,
                    feat_proj_dropout=0.0, final_dropout=0.0, layerdrop=0.0,
                    apply_spec_augment=False)
# musefm --attention → transformers attn_implementation ("fused" and "naive" are musefm-only)
HF_ATTENTION = {"sdpa": "sdpa", "fused": "sdpa", "eager": "eager", "naive": "eager"}
NCE_NAME = {"cosine": "F.cosine_similarity, broadcast as in fairseq",
            "matmul": "normalized matmul"}
MUSEFM_ATTENTION = {"sdpa": "sdpa", "fused": "fused", "eager": "naive", "naive": "naive"}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model-config", default=os.path.join(ROOT, "configs", "tiny-mert.json"),
                    help="musefm EncoderConfig JSON (model_type mert)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each batch item")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per round")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads, both sides")
    ap.add_argument("--codebooks", type=int, default=8)
    ap.add_argument("--codebook-size", type=int, default=1024)
    ap.add_argument("--final-dim", type=int, default=64)
    ap.add_argument("--logit-temp", type=float, default=0.1)
    ap.add_argument("--cqt-weight", type=float, default=1.0)
    ap.add_argument("--pen-weight", type=float, default=10.0)
    ap.add_argument("--mask-prob", type=float, default=0.8)
    ap.add_argument("--mask-length", type=int, default=5)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--attention", choices=sorted(HF_ATTENTION), default="sdpa",
                    help="musefm attention; the peer runs sdpa for fused/sdpa, "
                         "eager for eager/naive")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--peer-nce", default="cosine,matmul",
                    help="comma list of the peer variants to time, by how they compute the [M, K] "
                         "cosine logits: cosine = F.cosine_similarity on broadcast [M, K, D] "
                         "tensors, as fairseq's HubertModel.compute_nce (which MERT uses) does; "
                         "matmul = normalize(proj) @ normalize(label_embs).T, the same values "
                         "(to ~1e-7) without the [M, K, D] intermediates")
    ap.add_argument("--peer-only", action="store_true",
                    help="run only the Python step and print its step times and losses")
    args = ap.parse_args()
    args.peer_nce = [v.strip() for v in args.peer_nce.split(",") if v.strip()]
    bad = [v for v in args.peer_nce if v not in NCE_NAME]
    if bad or not args.peer_nce:
        ap.error(f"--peer-nce: {bad or 'empty'}; choose from {', '.join(NCE_NAME)}")
    return args


# ---------------------------------------------------------------- the peer (Python) side

def hubert_config(path, attention):
    """musefm EncoderConfig JSON → transformers.HubertConfig (field names are HF's)."""
    with open(path) as f:
        cfg = json.load(f)
    if cfg.get("model_type", "mert") != "mert":
        sys.exit(f"{path}: model_type {cfg['model_type']!r}; only MERT (HuBERT) encoders are "
                 "compared here")
    known = transformers.HubertConfig().to_dict()
    fields = {k: v for k, v in cfg.items() if k in known and k != "model_type"}
    # mask_time_prob > 0 makes HubertModel create masked_spec_embed; spec augment itself is off
    # (the step masks explicitly).
    hf = transformers.HubertConfig(**fields, **ZERO_DROPOUT, mask_time_prob=0.05)
    hf._attn_implementation = HF_ATTENTION[attention]
    return hf


def make_batch(args, frames_fn):
    """B items of real music (fixture tiled, offsets differ per item) and random labels."""
    y, sr = sf.read(os.path.join(ROOT, "tests", "fixtures", "real_24k.wav"), dtype="float32")
    assert sr == SR, f"fixture sample rate {sr}, expected {SR}"
    n = int(round(args.seconds * SR))
    reps = n // len(y) + 2
    tiled = np.tile(y, reps)
    offsets = [(b * len(y)) // max(args.batch, 1) for b in range(args.batch)]
    wav = torch.from_numpy(np.stack([tiled[o:o + n] for o in offsets]).copy())
    frames = frames_fn(n)
    g = torch.Generator().manual_seed(args.seed)
    labels = torch.randint(0, args.codebook_size, (args.codebooks, args.batch, frames), generator=g)
    return wav, labels


class PeerStep:
    """MERT's pretraining step on transformers' HubertModel modules (fp32, CPU)."""

    def __init__(self, args, config, nce):
        torch.manual_seed(args.seed)
        self.args, self.nce = args, nce
        self.model = transformers.HubertModel(config).train()
        # HubertFeatureEncoder sets requires_grad on the waveform in training mode (for
        # gradient checkpointing); MERT/fairseq do not compute a gradient for the input.
        self.model.feature_extractor._requires_grad = False
        hidden, c, k, d = config.hidden_size, args.codebooks, args.codebook_size, args.final_dim
        self.final_proj = torch.nn.Linear(hidden, d * c)  # untie_final_proj: one Linear, C chunks
        self.label_embs = torch.nn.Parameter(torch.empty(c, k, d).normal_())
        self.cqt_head = torch.nn.Linear(hidden, CQT_BINS)
        self.cqt = CQT(sr=SR, hop_length=320, fmin=32.7, fmax=None, n_bins=CQT_BINS,
                       bins_per_octave=48, filter_scale=1, norm=1, window="hann", center=True,
                       pad_mode="constant", trainable=False, output_format="Magnitude",
                       verbose=False)
        self.params = (list(self.model.parameters()) + list(self.final_proj.parameters()) +
                       [self.label_embs] + list(self.cqt_head.parameters()))
        self.opt = torch.optim.AdamW(self.params, lr=args.lr, betas=(0.9, 0.98), eps=1e-6,
                                     weight_decay=0.01)
        np.random.seed(args.seed)  # _compute_mask_indices draws from numpy's global RNG
        self.cqt_seconds = []

    def frames(self, samples):
        return int(self.model._get_feat_extract_output_lengths(torch.tensor(samples)))

    def step(self, wav, labels):
        """One optimizer step; returns (total loss, {component: value})."""
        a, model = self.args, self.model
        b = wav.shape[0]
        features = model.feature_extractor(wav).transpose(1, 2)  # [B, T, conv_dim[-1]]
        t = features.shape[1]
        features_pen = features.float().pow(2).mean()
        hidden = model.feature_projection(features)
        if isinstance(hidden, tuple):  # wav2vec2-style (hidden, normed) in other versions
            hidden = hidden[0]
        mask = torch.from_numpy(_compute_mask_indices((b, t), a.mask_prob, a.mask_length,
                                                      min_masks=2))
        hidden = torch.where(mask[..., None], model.masked_spec_embed.to(hidden.dtype), hidden)
        x = model.encoder(hidden).last_hidden_state  # [B, T, H]
        xm = x[mask]  # [M, H]
        m = xm.shape[0]

        proj = self.final_proj(xm).chunk(a.codebooks, dim=-1)
        ce = []
        for c in range(a.codebooks):
            if self.nce == "cosine":
                logits = F.cosine_similarity(proj[c][:, None, :], self.label_embs[c][None],
                                             dim=-1)
            else:
                logits = (F.normalize(proj[c], dim=-1, eps=1e-8) @
                          F.normalize(self.label_embs[c], dim=-1, eps=1e-8).T)
            ce.append(F.cross_entropy(logits / a.logit_temp, labels[c][mask], reduction="sum"))
        t0 = time.perf_counter()
        if a.cqt_weight > 0:  # as musefm: no CQT head or target without a CQT loss
            with torch.no_grad():
                target = self.cqt(wav).transpose(1, 2)[:, :t]  # [B, T, 336], clean audio
            cqt_sse = (self.cqt_head(xm) - target[mask]).pow(2).sum() / CQT_BINS
        else:
            cqt_sse = xm.new_zeros(())
        self.cqt_seconds.append(time.perf_counter() - t0)
        ce_sum = torch.stack(ce).sum()
        total = (ce_sum + a.cqt_weight * cqt_sse) / m + a.pen_weight * features_pen

        self.opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 10.0)
        self.opt.step()
        parts = {"nce": ce_sum.item() / m, "cqt": cqt_sse.item() / m,
                 "features_pen": features_pen.item(), "masked_frames": m}
        return total.item(), parts


def run_peer(args, config, nce, verbose=False):
    """Fresh peer model; `warmup` untimed + `steps` timed steps. Returns the bench_pretrain
    JSON shape plus per-step losses."""
    peer = PeerStep(args, config, nce)
    wav, labels = make_batch(args, peer.frames)
    losses, times = [], []
    for i in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        loss, parts = peer.step(wav, labels)
        dt = time.perf_counter() - t0
        losses.append(loss)
        if i >= args.warmup:
            times.append(dt)
        if verbose:
            tag = "warmup" if i < args.warmup else "step  "
            print(f"{tag} {i:3d}: {dt:7.3f} s  loss {loss:9.4f}  (nce {parts['nce']:.4f}, "
                  f"cqt {parts['cqt']:.4f}, features_pen {parts['features_pen']:.4f}, "
                  f"M {parts['masked_frames']})  cqt target {peer.cqt_seconds[-1]:.3f} s",
                  flush=True)
    return {"step_seconds": times, "median_s": statistics.median(times),
            "loss_first": losses[0], "loss_last": losses[-1], "losses": losses,
            "cqt_median_s": statistics.median(peer.cqt_seconds[args.warmup:])}


# ---------------------------------------------------------------- the musefm (C++) side

def musefm_cmd(args):
    exe = os.path.join(args.build, "benchmarks", "bench_pretrain")
    flags = ["--model-config", os.path.abspath(args.model_config), "--batch", args.batch,
             "--seconds", args.seconds, "--steps", args.steps, "--warmup", args.warmup,
             "--threads", args.threads,
             "--codebooks", args.codebooks, "--codebook-size", args.codebook_size,
             "--final-dim", args.final_dim, "--logit-temp", args.logit_temp,
             "--cqt-weight", args.cqt_weight, "--pen-weight", args.pen_weight,
             "--mask-prob", args.mask_prob, "--mask-length", args.mask_length, "--lr", args.lr,
             "--attention", MUSEFM_ATTENTION[args.attention]]
    return [exe] + [str(f) for f in flags]


def run_musefm(cmd, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"bench_pretrain failed (exit {proc.returncode}):\n  {shlex.join(cmd)}\n"
                 f"{proc.stderr.strip()[-2000:]}")
    lines = [l for l in proc.stdout.strip().splitlines() if l.strip()]
    try:
        out = json.loads(lines[-1])
        out["median_s"] = float(out["median_s"])
        return out
    except (IndexError, ValueError, KeyError) as e:
        sys.exit(f"bench_pretrain: expected a JSON object with median_s on its last stdout line "
                 f"({e}); stdout ended with:\n{proc.stdout[-1000:]}")


# ---------------------------------------------------------------- report

def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    config = hubert_config(args.model_config, args.attention)
    command = shlex.join([os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(ROOT)
                          else sys.executable, os.path.relpath(os.path.abspath(__file__), ROOT)]
                         + sys.argv[1:])
    name = os.path.basename(args.model_config)
    print(f"{name}: batch {args.batch} x {args.seconds:g} s, {args.codebooks} codebooks x "
          f"{args.codebook_size}, final_dim {args.final_dim}, fp32 CPU, {args.threads} threads; "
          f"peer NCE {'/'.join(args.peer_nce)}, peer attention {HF_ATTENTION[args.attention]}, "
          f"musefm attention {MUSEFM_ATTENTION[args.attention]}", flush=True)

    if args.peer_only:
        for nce in args.peer_nce:
            print(f"peer, NCE logits by {NCE_NAME[nce]}:", flush=True)
            out = run_peer(args, config, nce, verbose=True)
            print(f"peer ({nce}): median step {out['median_s']:.3f} s over {args.steps} steps "
                  f"({args.batch / out['median_s']:.2f} samples/s), CQT target "
                  f"{out['cqt_median_s']:.3f} s of it; loss first {out['loss_first']:.4f}, "
                  f"last {out['loss_last']:.4f}")
        return

    cmd = musefm_cmd(args)
    if not os.access(cmd[0], os.X_OK):
        sys.exit(f"{cmd[0]} not found: build it first (cmake --build {args.build} --target "
                 f"bench_pretrain), or run the Python side alone with --peer-only")
    sides = ["musefm"] + args.peer_nce
    times = {k: [] for k in sides}
    results = {k: [] for k in sides}
    for r in range(args.rounds):
        for side in (sides if r % 2 == 0 else sides[::-1]):
            res = (run_musefm(cmd, args.threads) if side == "musefm"
                   else run_peer(args, config, side))
            times[side].append(res["median_s"])
            results[side].append(res)
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(
            f"{'musefm' if k == 'musefm' else 'PyTorch ' + k} {times[k][-1]:.3f} s/step"
            for k in sides), flush=True)
    report(args, command, name, times, results)


def report(args, command, name, times, results):
    med = {k: statistics.median(v) for k, v in times.items()}
    for side in times:
        label = "musefm" if side == "musefm" else f"PyTorch peer ({side})"
        firsts = [r["loss_first"] for r in results[side]]
        lasts = [r["loss_last"] for r in results[side]]
        print(f"{label} loss: first step {statistics.median(firsts):.4f}, last step "
              f"{statistics.median(lasts):.4f} (medians over rounds; each round trains a fresh "
              f"model for {args.warmup + args.steps} steps on the fixed batch)")
    print(f"\n{name}, batch {args.batch} x {args.seconds:g} s, {args.codebooks}x"
          f"{args.codebook_size} codes, fp32, {args.threads} threads (both sides); "
          f"{args.rounds} interleaved rounds of {args.warmup} warm-up + {args.steps} timed steps\n")
    print("| implementation | median s/step | samples/s | musefm speed-up: median of per-round "
          "ratios (min-max) |")
    print("|---|---|---|---|")
    for nce in args.peer_nce:
        ratios = [p / m for p, m in zip(times[nce], times["musefm"])]
        cqt = statistics.median(r["cqt_median_s"] for r in results[nce])
        print(f"| PyTorch loop on transformers HubertModel ({HF_ATTENTION[args.attention]}; "
              f"NCE logits by {NCE_NAME[nce]}; nnAudio CQT target {cqt:.2f} s of the step) | "
              f"{med[nce]:.3f} | {args.batch / med[nce]:.2f} | {statistics.median(ratios):.2f}x "
              f"({min(ratios):.2f}-{max(ratios):.2f}) |")
    print(f"| musefm pretraining step (attention {MUSEFM_ATTENTION[args.attention]}) | "
          f"{med['musefm']:.3f} | {args.batch / med['musefm']:.2f} | 1.00x |")
    print(f"\nCommand: `{command}`")


if __name__ == "__main__":
    main()
