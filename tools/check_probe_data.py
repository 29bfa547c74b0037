#!/usr/bin/env python3
"""Checks probe tasks written by tools/make_probe_data.py; prints figures, exits 1 on failure.

Usage:
  .venv/bin/python tools/check_probe_data.py DATA_DIR [--compare OTHER_DIR] [--max-clips N]

For every DATA_DIR/<task>/task.json:
  format     task.json fields, TSV header, one row per WAV (no missing, no extra files),
             labels among the task's labels (regression: finite floats), mono 16-bit at
             the task's sample rate, equal clip lengths, RMS >= 1e-3, little clipping,
             test split on the held-out soundfont only (when one was given)
  nsynth_pitch   YIN f0 of each note vs its MIDI label (exact / pitch class)
  key            Krumhansl-Kessler chroma template estimate vs label (accuracy, MIREX score)
  tempo(_class)  onset-envelope autocorrelation BPM vs label (within 4 %)
  beat           beat times: a grid at the clip's BPM; low-band onset flux on the beats vs
                 half-way between them and vs 60 ms off (the annotations sit on the hits)
--compare OTHER_DIR: every file (TSVs, task.json, WAVs) byte-identical in both folders.
Standard library + numpy + soundfile only.
"""
import argparse
import hashlib
import json
import math
import os
import sys

import numpy as np
import soundfile as sf

PITCH_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
METRICS = {"multiclass": ["accuracy", "macro_f1"], "multilabel": ["roc_auc", "pr_auc"],
           "regression": ["r2"], "beat": ["beat_f1"]}
# pass thresholds (measured figures on FluidR3_GM are well above these; see the report)
MIN_PITCH_CLASS_ACC = 0.80
MIN_KEY_ACC = 0.30  # chance 1/24
MIN_TEMPO_ACC = 0.75  # slow four-on-the-floor / fast funk read at 2x / 0.5x
MIN_TEMPO_OCTAVE_ACC = 0.95  # within 4% of 0.5x, 1x or 2x the label
MIN_BEAT_FLUX_RATIO = 2.0  # low-band onset flux on annotated beats vs half-way between them
MAX_CLIPPED = 1e-3  # fraction of samples at full scale in one clip


class Report:
    def __init__(self):
        self.failures = []

    def check(self, ok, msg):
        if not ok:
            self.failures.append(msg)
            print(f"  FAIL {msg}")
        return ok


# --- estimators -------------------------------------------------------------------------------
def yin_f0(x, sr, fmin=30.0, fmax=2200.0, thresh=0.15):
    """Median YIN f0 over frames between 50 ms and 700 ms; None if unvoiced."""
    w = 2048
    tmax = int(sr / fmin)
    tmin = max(2, int(sr / fmax))
    f0s = []
    for start in range(int(0.05 * sr), int(0.7 * sr), w // 2):
        seg = x[start:start + w + tmax]
        if len(seg) < w + tmax:
            break
        frame = seg[:w]
        if np.sqrt(np.mean(frame ** 2)) < 1e-4:
            continue
        # difference function d(tau) = sum (x[j] - x[j+tau])^2 via FFT cross-correlation
        n = 1 << int(np.ceil(np.log2(len(seg) + w)))
        corr = np.fft.irfft(np.fft.rfft(seg, n) * np.conj(np.fft.rfft(frame, n)), n)[:tmax + 1]
        e0 = np.sum(frame ** 2)
        cs = np.concatenate([[0.0], np.cumsum(seg ** 2)])
        et = cs[np.arange(tmax + 1) + w] - cs[np.arange(tmax + 1)]
        d = e0 + et - 2 * corr
        d[0] = 0
        cmnd = d[1:] * np.arange(1, tmax + 1) / np.maximum(np.cumsum(d[1:]), 1e-12)
        cmnd = np.concatenate([[1.0], cmnd])
        cand = np.where(cmnd[tmin:] < thresh)[0]
        if len(cand):
            tau = tmin + cand[0]
            while tau + 1 <= tmax and cmnd[tau + 1] < cmnd[tau]:
                tau += 1
        else:
            tau = tmin + int(np.argmin(cmnd[tmin:]))
            if cmnd[tau] > 0.4:
                continue
        if 1 <= tau < tmax:  # parabolic interpolation
            a, b, c = cmnd[tau - 1], cmnd[tau], cmnd[tau + 1]
            den = a - 2 * b + c
            tau = tau + (0.5 * (a - c) / den if den > 0 else 0.0)
        f0s.append(sr / tau)
    return float(np.median(f0s)) if f0s else None


def stft_mag(x, n_fft, hop):
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    n = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    return np.abs(np.fft.rfft(x[idx] * np.hanning(n_fft), axis=1))


KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def estimate_key(x, sr):
    """Chroma from a long-window STFT (55 Hz - 2 kHz), correlated with rotated KK profiles."""
    n_fft = 8192
    mag = stft_mag(x, n_fft, n_fft // 2).sum(axis=0)
    freqs = np.arange(len(mag)) * sr / n_fft
    sel = (freqs > 55) & (freqs < 2000)
    pcs = np.round(12 * np.log2(freqs[sel] / 440.0) + 69).astype(int) % 12
    chroma = np.bincount(pcs, weights=mag[sel] ** 2, minlength=12)
    best, best_r = None, -2.0
    for mode, prof in (("major", KK_MAJOR), ("minor", KK_MINOR)):
        for tonic in range(12):
            r = np.corrcoef(chroma, np.roll(prof, tonic))[0, 1]
            if r > best_r:
                best, best_r = f"{PITCH_NAMES[tonic]} {mode}", r
    return best


def mirex_key_score(est, ref):
    """MIREX weights as in mir_eval.key.weighted_score: 1 same, 0.5 estimate a fifth above
    (same mode), 0.3 relative, 0.2 parallel, else 0."""
    (et, em), (rt, rm) = est.split(), ref.split()
    e, r = PITCH_NAMES.index(et), PITCH_NAMES.index(rt)
    if est == ref:
        return 1.0
    if em == rm and (e - r) % 12 == 7:
        return 0.5
    relative = 9 if rm == "major" else 3  # A minor is relative to C major, C major to A minor
    if em != rm and (e - r) % 12 == relative:
        return 0.3
    if em != rm and e == r:
        return 0.2
    return 0.0


def estimate_bpm(x, sr, lo, hi):
    """Spectral flux below 600 Hz (kick, snare body; 10 ms hop), autocorrelation, comb over
    1, 2 and 4 beats, searched within the task's BPM range."""
    hop = int(sr * 0.01)
    mag = np.log1p(100 * stft_mag(x, 1024, hop))[:, :int(600 * 1024 / sr)]
    flux = np.maximum(np.diff(mag, axis=0), 0).sum(axis=1)
    flux -= flux.mean()
    n = len(flux)
    ac = np.fft.irfft(np.abs(np.fft.rfft(flux, 2 * n)) ** 2)[:n]
    ac /= ac[0] + 1e-12
    fps = sr / hop
    best, best_s = None, -1e9
    for bpm in np.arange(lo, hi + 0.05, 0.1):
        lag = 60.0 * fps / bpm
        s = 0.0
        for mult, wgt in ((1, 1.0), (2, 1.0), (4, 1.0)):
            L = lag * mult
            if L < n - 1:
                i = int(L)
                s += wgt * (ac[i] * (1 - (L - i)) + ac[i + 1] * (L - i))
        if s > best_s:
            best, best_s = bpm, s
    return float(best)


# --- checks -----------------------------------------------------------------------------------
def read_tsv(path, rep):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    rep.check(lines[0] == "path\tlabel", f"{path}: header is not 'path<TAB>label'")
    rows = [tuple(l.split("\t")) for l in lines[1:] if l]
    for r in rows:
        rep.check(len(r) == 2, f"{path}: row {r!r} does not have 2 fields")
    return [r for r in rows if len(r) == 2]


def check_task(tdir, rep, max_clips):
    with open(os.path.join(tdir, "task.json")) as f:
        spec = json.load(f)
    name, ttype = spec.get("name"), spec.get("type")
    print(f"{name}: {ttype}, {len(spec.get('labels', []))} labels")
    for k in ("name", "type", "labels", "splits", "mode", "metrics", "sample_rate", "source"):
        rep.check(k in spec, f"{tdir}/task.json: key '{k}' missing")
    rep.check(name == os.path.basename(tdir), f"{tdir}: name '{name}' differs from folder")
    if ttype in METRICS:
        rep.check(spec["metrics"][:len(METRICS[ttype])] == METRICS[ttype],
                  f"{name}: metrics {spec['metrics']} do not start with {METRICS[ttype]}")
    sr = spec["sample_rate"]
    labels = spec["labels"]
    src = spec["source"]
    held = src.get("heldout_soundfont")
    per_split = {}
    for split, tsv in spec["splits"].items():
        rows = read_tsv(os.path.join(tdir, tsv), rep)
        meta_path = os.path.join(tdir, f"{split}.meta.jsonl")
        metas = {}
        if os.path.exists(meta_path):
            with open(meta_path) as f:
                metas = {m["path"]: m for m in map(json.loads, filter(None, f.read().split("\n")))}
        listed = {p for p, _ in rows}
        on_disk = {f"audio/{split}/{n}" for n in os.listdir(os.path.join(tdir, "audio", split))}
        rep.check(listed == on_disk, f"{name}/{split}: {len(listed - on_disk)} listed files "
                  f"missing, {len(on_disk - listed)} WAVs not listed")
        lengths, rms_min, clip_max, data = set(), 1.0, 0.0, []
        for path, label in rows:
            if ttype == "multiclass":
                rep.check(label in labels, f"{name}/{path}: label '{label}' not in labels")
            elif ttype == "multilabel":
                rep.check(all(l in labels for l in label.split(",")), f"{name}/{path}: bad labels")
            elif ttype == "beat":
                beats = [float(v) for v in label.split()]
                rep.check(beats == sorted(beats) and all(0 <= b for b in beats) and beats,
                          f"{name}/{path}: beat times '{label[:40]}' are not increasing times")
            else:
                vals = [float(v) for v in label.split(",")]
                rep.check(len(vals) == len(labels) and all(map(math.isfinite, vals)),
                          f"{name}/{path}: bad regression target '{label}'")
            full = os.path.join(tdir, path)
            if not os.path.exists(full):
                continue
            info = sf.info(full)
            rep.check(info.channels == 1 and info.samplerate == sr and info.subtype == "PCM_16",
                      f"{name}/{path}: {info.channels} ch {info.samplerate} Hz {info.subtype}")
            x, _ = sf.read(full, dtype="int16")
            lengths.add(len(x))
            xf = x.astype(np.float64) / 32768.0
            rms = float(np.sqrt(np.mean(xf ** 2)))
            clipped = float(np.mean(np.abs(x.astype(np.int32)) >= 32767))
            rms_min, clip_max = min(rms_min, rms), max(clip_max, clipped)
            rep.check(rms >= 1e-3, f"{name}/{path}: silent (RMS {rms:.2e})")
            rep.check(clipped <= MAX_CLIPPED, f"{name}/{path}: {clipped:.2%} samples clipped")
            if held and path in metas:
                on_held = metas[path]["soundfont"] == held
                rep.check(on_held == (split == "test"),
                          f"{name}/{path}: soundfont {metas[path]['soundfont']} in split {split}")
            if len(data) < max_clips:
                data.append((xf, label, metas.get(path, {})))
        rep.check(len(lengths) <= 1, f"{name}/{split}: clip lengths differ: {sorted(lengths)}")
        counts = {}
        for _, l in rows:
            counts[l] = counts.get(l, 0) + 1
        bal = f", per label {min(counts.values())}..{max(counts.values())}" \
            if ttype == "multiclass" and counts else ""
        secs = (next(iter(lengths)) / sr) if lengths else 0
        print(f"  {split}: {len(rows)} clips of {secs:g} s{bal}, min RMS {rms_min:.4f}, "
              f"max clipped {clip_max:.4%}")
        per_split[split] = data
    if name == "nsynth_pitch":
        check_pitch(per_split, sr, spec, rep)
    elif name == "key":
        check_key(per_split, sr, rep)
    elif name in ("tempo", "tempo_class"):
        check_tempo(per_split, sr, spec, rep)
    elif ttype == "beat":
        check_beats(per_split, sr, spec, rep)


def by_split(per_split, score):
    """score(x, label, meta) -> tuple of 0/1 figures; prints nothing, returns per-split means."""
    out, every = {}, []
    for split, clips in per_split.items():
        scores = [score(*c) for c in clips]
        every += scores
        if scores:
            out[split] = np.mean(scores, axis=0)
    out["all"] = np.mean(every, axis=0) if every else np.zeros(2)
    return out, max(len(every), 1)


def split_text(res, i):
    return ", ".join(f"{k} {v[i]:.1%}" for k, v in res.items() if k != "all")


def check_pitch(per_split, sr, spec, rep):
    def score(x, label, meta):
        f0 = yin_f0(x, sr)
        if f0 is None:
            return 0.0, 0.0
        est = int(round(12 * math.log2(f0 / 440.0) + 69))
        if "pitch" in meta or label.isdigit():
            midi = int(meta.get("pitch", label))
            return float(est == midi), float((est - midi) % 12 == 0)
        same_class = float(est % 12 == PITCH_NAMES.index(label))  # --pitch-labels class
        return same_class, same_class
    res, n = by_split(per_split, score)
    exact, pclass = res["all"]
    print(f"  f0 (YIN) vs label on {n} notes: exact MIDI {exact:.1%} ({split_text(res, 0)}), "
          f"pitch class {pclass:.1%} ({split_text(res, 1)}); chance {1 / len(spec['labels']):.1%}")
    rep.check(pclass >= MIN_PITCH_CLASS_ACC,
              f"nsynth_pitch: pitch-class accuracy {pclass:.1%} < {MIN_PITCH_CLASS_ACC:.0%}")


def check_key(per_split, sr, rep):
    def score(x, label, meta):
        est = estimate_key(x, sr)
        return float(est == label), mirex_key_score(est, label)
    res, n = by_split(per_split, score)
    acc, mirex = res["all"]
    print(f"  chroma-template key estimate on {n} clips: accuracy {acc:.1%} "
          f"({split_text(res, 0)}), "
          f"MIREX score {mirex:.1%}; chance {1 / 24:.1%}")
    rep.check(acc >= MIN_KEY_ACC, f"key: accuracy {acc:.1%} < {MIN_KEY_ACC:.0%}")


def check_tempo(per_split, sr, spec, rep):
    lo, hi = spec["source"].get("tempo_range", [60, 180])

    def near(est, label, meta, m):
        if "bpm" in meta or spec["type"] == "regression":
            bpm = m * float(meta.get("bpm", label))
            return abs(est - bpm) <= 0.04 * bpm
        a, b = (m * float(v) for v in label.split("-"))  # tempo_class bin "a-b"
        return 0.96 * a <= est <= 1.04 * b

    def score(x, label, meta):
        est = estimate_bpm(x, sr, lo, hi)
        octave = any(near(est, label, meta, m) for m in (0.5, 1, 2))
        return float(near(est, label, meta, 1)), float(octave)
    res, n = by_split(per_split, score)
    ok, octave = res["all"]
    print(f"  onset-autocorrelation BPM on {n} clips: within 4% {ok:.1%} ({split_text(res, 0)}), "
          f"allowing 0.5x/2x {octave:.1%}")
    rep.check(ok >= MIN_TEMPO_ACC,
              f"{spec['name']}: tempo within 4% {ok:.1%} < {MIN_TEMPO_ACC:.0%}")
    rep.check(octave >= MIN_TEMPO_OCTAVE_ACC, f"{spec['name']}: tempo within 4% of 0.5x/1x/2x "
              f"{octave:.1%} < {MIN_TEMPO_OCTAVE_ACC:.0%}")


def check_beats(per_split, sr, spec, rep):
    hop = int(sr * 0.01)

    def score(x, label, meta):
        beats = np.array([float(v) for v in label.split()])
        grid = len(beats) < 2 or ("bpm" not in meta) or \
            np.allclose(np.diff(beats), 60.0 / meta["bpm"], atol=2e-4)
        mag = np.log1p(100 * stft_mag(x, 1024, hop))[:, :int(600 * 1024 / sr)]
        flux = np.concatenate([[0], np.maximum(np.diff(mag, axis=0), 0).sum(axis=1)])

        def at(times):  # stft_mag frame k spans [k hop, k hop + 1024): an onset at t first
            out = []    # shows in the frame whose window starts 1024 samples before it
            for t in times:
                k = int(round((t * sr - 1024) / hop))
                out.append(flux[max(k - 1, 0):max(k + 3, 1)].max() if 0 <= t and k < len(flux)
                           else 0.0)
            return float(np.mean(out)) if out else 0.0
        on = at(beats)
        mid = at((beats[:-1] + beats[1:]) / 2)
        shifted = max(at(beats - 0.06), at(beats + 0.06))
        return float(grid), on / (mid + 1e-9), on / (shifted + 1e-9)
    res, n = by_split(per_split, score)
    grid, ratio, aligned = res["all"]
    print(f"  beat grids at the clip BPM: {grid:.1%} of {n} clips; low-band onset flux on the "
          f"beats / half-way between: {ratio:.2f}x, / 60 ms off: {aligned:.2f}x")
    rep.check(grid == 1.0, f"{spec['name']}: {1 - grid:.1%} of the beat lists are not a grid")
    rep.check(ratio >= MIN_BEAT_FLUX_RATIO,
              f"{spec['name']}: onset flux on beats only {ratio:.2f}x that between them")
    rep.check(aligned >= MIN_BEAT_FLUX_RATIO,
              f"{spec['name']}: onset flux on beats only {aligned:.2f}x that 60 ms off them")


def hashes(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir")
    ap.add_argument("--compare", help="second output folder made with the same options")
    ap.add_argument("--max-clips", type=int, default=10**9,
                    help="clips per split fed to the audio estimators (default all)")
    opt = ap.parse_args(argv)
    rep = Report()
    tasks = sorted(t for t in os.listdir(opt.data_dir)
                   if os.path.isfile(os.path.join(opt.data_dir, t, "task.json")))
    if not tasks:
        print(f"check_probe_data.py: {opt.data_dir}: no <task>/task.json found", file=sys.stderr)
        return 1
    for t in tasks:
        check_task(os.path.join(opt.data_dir, t), rep, opt.max_clips)
    if opt.compare:
        a, b = hashes(opt.data_dir), hashes(opt.compare)
        same = sum(1 for k in a if b.get(k) == a[k])
        wav = sum(1 for k in a if k.endswith(".wav"))
        print(f"compare: {same}/{len(a)} files identical ({wav} WAVs), {len(b)} files in "
              f"{opt.compare}")
        rep.check(a == b, f"{opt.data_dir} and {opt.compare} differ "
                  f"({len(set(a) ^ set(b))} files only in one, "
                  f"{sum(1 for k in a if k in b and a[k] != b[k])} with other content)")
    print("OK" if not rep.failures else f"{len(rep.failures)} failure(s)")
    return 0 if not rep.failures else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
