#!/usr/bin/env python3
"""Full-size parity and windowed-extraction (stitching) error of the `musefm extract` CLI.

The test suite checks parity on tiny models; this script checks the released architectures with
random weights, end to end through the CLI (WAV in, .npy out), on real music (the fixture
excerpt tests/fixtures/real_24k.wav tiled, as benchmarks/compare_extract.py does).

  musicfm   MusicFM 25 Hz (hidden 1024, 12 layers, 16 heads, FFN 4096, depthwise kernel 31,
            128 mels, Res2d channels 512, codebook 4096 x 16), built with the builders of
            tools/make_musicfm_fixtures.py (every parameter and the BatchNorm running statistics
            randomised, fixed seed), saved as an upstream {"state_dict": {"model.<key>": ...}}
            checkpoint + stats json, converted with tools/musefm_convert/musicfm.py. Reference: the
            MusicFM25Hz forward of make_musicfm_fixtures.py (torchaudio mel, Res2d subsampling,
            transformers Wav2Vec2ConformerEncoder, eager attention, layer inputs recorded with
            hooks) and the script's from-the-spec reimplementation of MusicFM's own encoder copy.
  mert330m  MERT-v1-330M (pre-LN) as transformers HubertModel with its default random init
            (torch.manual_seed(0), as compare_extract.py), save_pretrained + convert_checkpoint
            hf-mert. Every hidden state against model(x, output_hidden_states=True), eager and
            sdpa; the last one against last_hidden_state (MERT semantics: the final layer-normed
            output; transformers 5.x puts the un-normed residual stream in hidden_states[-1] of a
            pre-LN model, see tests/test_encoder_mert.cpp).
  stitch    Windowed extraction vs one pass over the whole input (--window 0), for MERT-v1-95M
            (HubertModel default init) and the full-size MusicFM above, on --stitch-seconds of
            audio: --window 10 with --hop 10, 8 and 5. Per setting, the per-frame relative error
            ||a_t - b_t|| / ||b_t|| (b: the full pass) at the last and a middle hidden state
            (median and max over frames), and max |mean_t a - mean_t b| / ||mean_t b|| of the
            mean-pooled embedding (last state, and the worst over all states). The windows are
            those include/musefm/extract.h describes (hop rounded down to whole frames and at
            most one window's frames; the last window ends at the end of the input; each frame
            from the window in whose half of the overlap it lies); for --hop 10 and 8 the CLI's
            output is checked against separate --window 0 passes over each window's audio,
            stitched so.

Parity figures are max |musefm - ref| / max |ref| per hidden state; the worst one is reported.
Both sides run fp32 on CPU with the same thread count.

Run (the CLI built in --build, tools/setup.sh --tools done):
  .venv/bin/python tools/check_full_size.py [--seconds 10] [--stitch-seconds 30]
      [--only musicfm|mert330m|stitch] [--threads 2] [--build build]
Prints a Markdown summary (with this command line) for benchmarks/RESULTS.md.
"""
import argparse
import datetime
import gc
import json
import os
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
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import make_musicfm_fixtures as mfm  # noqa: E402
from compare_extract import ARCH as MERT_ARCH, COMMON as MERT_COMMON  # noqa: E402
from musefm_convert.hf_mert import convert_hf_mert  # noqa: E402
from musefm_convert.musicfm import convert_musicfm  # noqa: E402

SEED = 2468
# MusicFM25Hz defaults (model/musicfm_25hz.py) and the conformer config it loads
# (facebook/wav2vec2-conformer-rope-large-960h-ft); the rest as in the tiny fixture.
MUSICFM_FULL = dict(
    n_mels=128, conv_channels=512, codebook_size=4096, codebook_dim=16,
    conformer=dict(mfm.CONFORMER, hidden_size=1024, num_hidden_layers=12, num_attention_heads=16,
                   intermediate_size=4096, conv_depthwise_kernel_size=31,
                   num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16))
STITCH = [(10.0, 10.0), (10.0, 8.0), (10.0, 5.0)]  # (window, hop) in seconds
VERIFY = {(10.0, 10.0), (10.0, 8.0)}  # settings checked against separate per-window passes
PARTS = ("musicfm", "mert330m", "stitch")


def load_audio(seconds):
    y, sr = sf.read(os.path.join(ROOT, "tests", "fixtures", "real_24k.wav"), dtype="float32")
    assert sr == 24000, sr
    n = int(seconds * sr)
    return np.tile(y, n // len(y) + 1)[:n].copy()


def write_wav(tmp, name, y):
    path = os.path.join(tmp, name + ".wav")
    if not os.path.exists(path):
        sf.write(path, y, 24000, subtype="FLOAT")  # float samples: the CLI reads exactly y
    return path


class Cli:
    def __init__(self, args, tmp):
        self.binary = os.path.join(args.build, "src", "cli", "musefm")
        self.threads, self.tmp, self.runs = args.threads, tmp, 0
        if not os.access(self.binary, os.X_OK):
            sys.exit(f"{self.binary} not found: build the CLI first (cmake --build build)")

    def extract(self, model_dir, wav, window=0.0, hop=0.0, pool="none"):
        """`musefm extract --layers all` -> (array, wall seconds including the model load)."""
        self.runs += 1
        out = os.path.join(self.tmp, f"out{self.runs}")
        cmd = [self.binary, "extract", "--model", model_dir, "--layers", "all", "--pool", pool,
               "--window", f"{window:g}", "--hop", f"{hop:g}", "--threads", str(self.threads),
               "--out-dir", out, wav]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        name = os.path.splitext(os.path.basename(wav))[0]
        return np.load(os.path.join(out, name + ".npy")), seconds


def rel_errors(mine, refs):
    """max |a - b| / max |b| per hidden state."""
    assert len(mine) == len(refs), (len(mine), len(refs))
    errs = []
    for i, (a, b) in enumerate(zip(mine, refs)):
        b = b.numpy() if isinstance(b, torch.Tensor) else b
        assert a.shape == b.shape, (i, a.shape, b.shape)
        errs.append(float(np.abs(a - b).max() / np.abs(b).max()))
    return errs


def worst(errs):
    i = int(np.argmax(errs))
    return f"{errs[i]:.1e} (state {i})"


def build_musicfm(tmp):
    """Full-size random MusicFM: (reference model, converted model dir)."""
    model = mfm.build(MUSICFM_FULL, SEED)
    src, model_dir = os.path.join(tmp, "musicfm_src"), os.path.join(tmp, "musicfm")
    os.makedirs(src, exist_ok=True)
    ckpt, stats = os.path.join(src, "pretrained_full.pt"), os.path.join(src, "stats.json")
    torch.save(mfm.upstream_state_dict(model), ckpt)
    mfm.write_json(stats, mfm.STATS)
    config, state = convert_musicfm(ckpt, stats, model_dir)
    conformer = MUSICFM_FULL["conformer"]
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                "conv_depthwise_kernel_size"):
        assert config[key] == conformer[key], (key, config[key])
    assert (config["n_mels"], config["conv_subsampling_channels"]) == (128, 512), config
    del state
    os.remove(ckpt)
    gc.collect()
    return model, model_dir


def build_mert(tmp, size):
    torch.manual_seed(0)  # as compare_extract.py
    hf_dir, model_dir = os.path.join(tmp, f"mert{size}_hf"), os.path.join(tmp, f"mert{size}")
    model = transformers.HubertModel(transformers.HubertConfig(**MERT_COMMON, **MERT_ARCH[size]))
    model.save_pretrained(hf_dir)
    convert_hf_mert(hf_dir, model_dir)
    del model
    gc.collect()
    return hf_dir, model_dir


@torch.no_grad()
def part_musicfm(args, tmp, cli, y):
    model, model_dir = build_musicfm(tmp)
    x = torch.from_numpy(y).unsqueeze(0)
    t0 = time.perf_counter()
    _, conv_output, hidden = mfm.reference_forward(model, x)
    ref_s = time.perf_counter() - t0
    check = mfm.musicfm_copy_hidden_states(model.conformer, conv_output)
    hidden = [h[0] for h in hidden]
    check = [h[0] for h in check]
    del model, conv_output
    gc.collect()
    mine, cli_s = cli.extract(model_dir, write_wav(tmp, f"music{args.seconds:g}", y))
    hf = rel_errors(mine, hidden)
    copy = rel_errors(mine, check)
    ref_ref = rel_errors([h.numpy() for h in check], hidden)
    print(f"musicfm per state vs HF eager: {' '.join(f'{e:.1e}' for e in hf)}")
    return [dict(model="MusicFM 25 Hz, full size", frames=mine.shape[1], states=mine.shape[0],
                 refs=[("transformers Wav2Vec2ConformerEncoder, eager", hf),
                       ("MusicFM encoder copy, from the spec (sdpa)", copy)],
                 floor=("HF eager vs MusicFM copy", ref_ref),
                 ref_s=ref_s, cli_s=cli_s)]


@torch.no_grad()
def part_mert330m(args, tmp, cli, y):
    hf_dir, model_dir = build_mert(tmp, "330m")
    mine, cli_s = cli.extract(model_dir, write_wav(tmp, f"music{args.seconds:g}", y))
    x = torch.from_numpy(y).unsqueeze(0)
    refs, times = {}, {}
    for impl in ("eager", "sdpa"):
        model = transformers.HubertModel.from_pretrained(hf_dir, attn_implementation=impl).eval()
        t0 = time.perf_counter()
        out = model(x, output_hidden_states=True)
        times[impl] = time.perf_counter() - t0
        # MERT semantics: every layer's input, then the final layer-normed output.
        refs[impl] = [h[0] for h in out.hidden_states[:-1]] + [out.last_hidden_state[0]]
        raw_last = out.hidden_states[-1][0]
        del model, out
        gc.collect()
    errs = {impl: rel_errors(mine, r) for impl, r in refs.items()}
    unnormed = rel_errors(mine[-1:], [raw_last])[0]
    print(f"mert330m per state vs eager: {' '.join(f'{e:.1e}' for e in errs['eager'])}")
    print(f"mert330m last state vs transformers' un-normed hidden_states[-1]: {unnormed:.1e} "
          "(expected large: musefm returns the layer-normed output there)")
    return [dict(model="MERT-v1-330M (pre-LN)", frames=mine.shape[1], states=mine.shape[0],
                 refs=[("transformers HubertModel, eager", errs["eager"]),
                       ("transformers HubertModel, sdpa", errs["sdpa"])],
                 floor=("eager vs sdpa", rel_errors([r.numpy() for r in refs["sdpa"]],
                                                    refs["eager"])),
                 ref_s=times["eager"], cli_s=cli_s)]


class FrameGrid:
    """Frame count and hop of a converted model (Encoder::num_frames, Extractor::frame_hop)."""

    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.c = json.load(f)
        self.sr = self.c["sample_rate"]
        self.hop = (self.c["mel_hop_length"] * 4 if self.c["model_type"] == "musicfm"
                    else int(np.prod(self.c["conv_stride"])))

    def frames(self, n):
        if self.c["model_type"] == "musicfm":  # mel frames minus the last, then two stride-2 convs
            n = n // self.c["mel_hop_length"]
            return ((n - 1) // 2) // 2 + 1 if n > 0 else 0
        for k, st in zip(self.c["conv_kernel"], self.c["conv_stride"]):
            n = (n - k) // st + 1 if n >= k else 0
        return n

    def plan(self, total, window_s, hop_s):
        """[(start, end, first_frame, end_frame)] of the windows extract.h describes."""
        window = round(window_s * self.sr)
        own = self.frames(window)
        hop = min(max(round(hop_s * self.sr) // self.hop * self.hop, self.hop), own * self.hop)
        spans, start, keep, earliest = [], 0, 0, 0
        while total > start + window:
            nxt, own_end = (start + hop) // self.hop, start // self.hop + own
            middle = min(max((nxt + own_end) // 2, nxt), own_end)
            spans.append((start, start + window, keep, middle))
            keep, earliest, start = middle, start, start + hop
        start = max(earliest, (total - window) // self.hop * self.hop) if total > window else 0
        spans.append((start, total, keep, start // self.hop + self.frames(total - start)))
        return spans


def check_stitching(cli, model_dir, grid, y, spans, out, tmp, tag):
    """max |Δ| / max |ref| between the CLI's windowed output and --window 0 passes over each
    window's audio, cut at the frames the plan assigns to each window."""
    worst = 0.0
    assert spans[-1][3] == out.shape[1] and all(
        a[3] == b[2] for a, b in zip(spans, spans[1:])), spans
    for k, (start, end, first, end_frame) in enumerate(spans):
        piece, _ = cli.extract(model_dir, write_wav(tmp, f"{tag}_window{k}", y[start:end]))
        local = first - start // grid.hop
        assert local >= 0 and local + end_frame - first <= piece.shape[1], (k, spans)
        ref = out[:, first:end_frame]
        worst = max(worst, float(np.abs(piece[:, local:local + end_frame - first] - ref).max()
                                 / np.abs(ref).max()))
    return worst


def frame_errors(a, b):
    """||a_t - b_t|| / ||b_t|| over frames t, for a, b [T, H]."""
    return np.linalg.norm(a - b, axis=-1) / np.linalg.norm(b, axis=-1)


def stitch_rows(name, cli, model_dir, wav, y, tmp):
    grid = FrameGrid(model_dir)
    full, full_s = cli.extract(model_dir, wav)
    assert full.shape[1] == grid.frames(len(y)), (full.shape, grid.frames(len(y)))
    mid, last = (full.shape[0] - 1) // 2, full.shape[0] - 1
    rows = []
    for window, hop in STITCH:
        a, secs = cli.extract(model_dir, wav, window, hop)
        assert a.shape == full.shape, (a.shape, full.shape)
        spans = grid.plan(len(y), window, hop)
        pooled_a, pooled_b = a.mean(1), full.mean(1)
        pooled = np.abs(pooled_a - pooled_b).max(-1) / np.linalg.norm(pooled_b, axis=-1)
        e_all = np.stack([frame_errors(a[i], full[i]) for i in range(full.shape[0])])
        verified = None
        if (window, hop) in VERIFY:
            tag = f"{name.split()[0].replace('-', '').lower()}_w{window:g}h{hop:g}"
            verified = check_stitching(cli, model_dir, grid, y, spans, a, tmp, tag)
            assert verified < 1e-4, verified
        rows.append(dict(model=name, window=window, hop=hop, windows=len(spans), verified=verified,
                         frames=a.shape[1], last=last, mid=mid, e_last=e_all[last],
                         e_mid=e_all[mid], pooled_last=pooled[last], pooled_worst=pooled.max(),
                         pooled_worst_state=int(pooled.argmax()), seconds=secs))
        starts = ", ".join(f"{s / grid.sr:.3f}" for s, *_ in spans)
        seams = ", ".join(str(sp[2]) for sp in spans[1:])
        print(f"{name} window {window:g} hop {hop:g}: windows start at [{starts}] s, seams at "
              f"frames [{seams}]; worst frame at state {last}: t = {int(e_all[last].argmax())} "
              f"of {a.shape[1]}; median per state: "
              + " ".join(f"{v:.1e}" for v in np.median(e_all, 1)))
    # --pool mean is the mean of the stitched frames (a: the last setting's frames).
    window, hop = STITCH[-1]
    mean, _ = cli.extract(model_dir, wav, window, hop, pool="mean")
    gap = float(np.abs(mean - a.mean(1)).max() / np.abs(a.mean(1)).max())
    print(f"{name}: --pool mean vs mean of --pool none frames (window {window:g} hop {hop:g}): "
          f"{gap:.1e}")
    assert gap < 1e-5, gap
    return rows, dict(full_s=full_s, pool_gap=gap)


def part_stitch(args, tmp, cli, y):
    wav = write_wav(tmp, f"music{args.stitch_seconds:g}", y)
    _, mert_dir = build_mert(tmp, "95m")
    rows, t_mert = stitch_rows("MERT-v1-95M", cli, mert_dir, wav, y, tmp)
    model_dir = os.path.join(tmp, "musicfm")
    if not os.path.isdir(model_dir):
        model, model_dir = build_musicfm(tmp)
        del model
        gc.collect()
    more, t_mfm = stitch_rows("MusicFM 25 Hz", cli, model_dir, wav, y, tmp)
    return rows + more, {"MERT-v1-95M": t_mert, "MusicFM 25 Hz": t_mfm}


def command_line():
    exe = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(ROOT) else "python"
    return " ".join([exe, os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)] + sys.argv[1:])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="audio for the parity parts")
    ap.add_argument("--stitch-seconds", type=float, default=30.0, help="audio for stitch")
    ap.add_argument("--only", choices=PARTS, help="run one part (default: all)")
    ap.add_argument("--threads", type=int, default=2, help="torch and musefm threads")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    transformers.utils.logging.disable_progress_bar()
    parts = [args.only] if args.only else list(PARTS)

    parity, stitch, part_s, stitch_s = [], [], {}, {}
    with tempfile.TemporaryDirectory(prefix="musefm_full_") as tmp:
        cli = Cli(args, tmp)
        for part in parts:
            t0 = time.perf_counter()
            if part == "musicfm":
                parity += part_musicfm(args, tmp, cli, load_audio(args.seconds))
            elif part == "mert330m":
                parity += part_mert330m(args, tmp, cli, load_audio(args.seconds))
            else:
                stitch, stitch_s = part_stitch(args, tmp, cli, load_audio(args.stitch_seconds))
            part_s[part] = time.perf_counter() - t0
            print(f"[{part}: {part_s[part]:.0f} s]", flush=True)

    print(f"\n## Full-size parity and windowed extraction ({datetime.date.today()})\n")
    print(f"Command: `{command_line()}`\n")
    print(f"Random weights, real music (fixture excerpt tiled), fp32, CPU, {args.threads} threads "
          f"on both sides; musefm through `musefm extract --layers all --pool none --threads "
          f"{args.threads}` on a float WAV; torch {torch.__version__}, transformers "
          f"{transformers.__version__}. Part times: "
          + ", ".join(f"{p} {s:.0f} s" for p, s in part_s.items()) + ".")
    if parity:
        print(f"\nParity, {args.seconds:g} s, `--window 0` (max |Δ| / max |ref| per hidden state, "
              "worst state; the reference-vs-reference figure is the floor):\n")
        print("| model | frames × states | reference | worst | last state | ref vs ref | "
              "ref s | musefm s |")
        print("|---|---|---|---|---|---|---|---|")
        for r in parity:
            for i, (ref, errs) in enumerate(r["refs"]):
                extra = (f"{r['floor'][0]}: {worst(r['floor'][1])} | {r['ref_s']:.1f} | "
                         f"{r['cli_s']:.1f}") if i == 0 else " | | "
                print(f"| {r['model']} | {r['frames']} × {r['states']} | {ref} | {worst(errs)} | "
                      f"{errs[-1]:.1e} | {extra} |")
        print("\n(musefm s: the whole CLI call, model load included; ref s: the forward only.)")
    if stitch:
        print(f"\nWindowed vs one pass, {args.stitch_seconds:g} s (per-frame ‖a−b‖/‖b‖, b = "
              "`--window 0`; pooled: max |Δ| of the mean over frames / its norm):\n")
        print("| model | --window / --hop | windows | last state: median / max | "
              "middle state: median / max | pooled, last / worst state | vs separate window "
              "passes | musefm s |")
        print("|---|---|---|---|---|---|---|---|")
        for r in stitch:
            print(f"| {r['model']} (last {r['last']}, middle {r['mid']}) | {r['window']:g} / "
                  f"{r['hop']:g} | {r['windows']} | {np.median(r['e_last']):.1e} / "
                  f"{r['e_last'].max():.1e} | {np.median(r['e_mid']):.1e} / "
                  f"{r['e_mid'].max():.1e} | {r['pooled_last']:.1e} / {r['pooled_worst']:.1e} "
                  f"(state {r['pooled_worst_state']}) | "
                  + (f"{r['verified']:.1e}" if r["verified"] is not None else "–")
                  + f" | {r['seconds']:.1f} |")
        print("\n(vs separate window passes: max |Δ| / max |ref| between the windowed output "
              "and `--window 0` runs over each window's audio, cut at the seams extract.h "
              "describes. musefm s: the windowed CLI call; `--window 0`: "
              + ", ".join(f"{m} {s['full_s']:.1f} s" for m, s in stitch_s.items())
              + ". `--pool mean` vs the mean of the `--pool none` frames: "
              + ", ".join(f"{m} {s['pool_gap']:.1e}" for m, s in stitch_s.items()) + ".)")


if __name__ == "__main__":
    main()
