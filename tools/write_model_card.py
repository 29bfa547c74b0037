#!/usr/bin/env python3
"""Writes the shipped model's MODEL_CARD.md and checksums.json from what made it.

  .venv/bin/python tools/write_model_card.py --model models/musefm-small \\
      --recipe configs/pretrain/musefm-small.json --corpus data/corpus \\
      --run runs/iter1 [--run runs/iter2] --probe runs/probe/report.json \\
      --twin NAME --model-name NAME

Reads: the model dir (config.json, model.safetensors), the corpus' sources.jsonl (origins and
licences of every segment), each run's train.jsonl (steps, wall time), the probe report.json
(best layer on valid, test scores) and optional notes (--notes FILE, Markdown appended).
Writes checksums.json (FNV-1a 64 of config.json and model.safetensors, as musefm checks them at
load) and MODEL_CARD.md. Standard library only.
"""
import argparse
import collections
import json
import os
import sys

PRIMARY = {"multiclass": "accuracy", "regression": "r2", "beat": "f_measure"}
TASK_TITLES = {"nsynth_pitch": "pitch (48 notes), acc.", "nsynth_family": "instrument family (13), acc.",
               "key": "key (24), acc.", "tempo": "tempo, R²", "tempo_class": "tempo class (6), acc.",
               "beat": "beat F1"}


def fnv1a64(path):
    h = 0xCBF29CE484222325
    with open(path, "rb") as f:
        data = f.read()
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"fnv1a64:{h:016x}"


def best_scores(report_path):
    """{model: {task: (score x 100, probe, layer)}}: per task the higher test score of the
    probes, each at its best layer chosen on valid."""
    rep = json.load(open(report_path))
    out = collections.defaultdict(dict)
    for r in rep["rows"]:
        if not r.get("best"):
            continue
        metrics = rep["tasks"][r["task"]]["metrics"]
        metric = metrics[0]
        v = r["test"].get(metric, {}).get("mean")
        if v is None:
            continue
        cur = out[r["model"]].get(r["task"])
        if cur is None or 100 * v > cur[0]:
            out[r["model"]][r["task"]] = (100 * v, r["probe"], r["layer"])
    return out, list(rep["tasks"])


def run_summary(run):
    steps, elapsed, last = 0, 0.0, None
    with open(os.path.join(run, "train.jsonl")) as f:
        for line in f:
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if "step" in r and "loss" in r:
                steps = max(steps, r["step"])
                last = r
    # time_s (elapsed_s in older runs) restarts on resume: add the last value of each segment
    seg_total, prev = 0.0, 0.0
    with open(os.path.join(run, "train.jsonl")) as f:
        for line in f:
            if line.startswith("{"):
                r = json.loads(line)
                e = r.get("elapsed_s", r.get("time_s"))
                if e is None:
                    continue
                if e < prev:
                    seg_total += prev
                prev = e
    elapsed = seg_total + prev
    return steps, elapsed, last


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--model-name", required=True, help="its column in the probe report")
    ap.add_argument("--twin", required=True, help="the untrained twin's column in the report")
    ap.add_argument("--recipe", required=True, action="append")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--run", required=True, action="append")
    ap.add_argument("--probe", required=True, help="probe report.json")
    ap.add_argument("--notes", help="Markdown appended to the card")
    a = ap.parse_args()

    sums = {f: fnv1a64(os.path.join(a.model, f)) for f in ("config.json", "model.safetensors")}
    with open(os.path.join(a.model, "checksums.json.tmp"), "w") as f:
        json.dump(sums, f, indent=2)
        f.write("\n")
    os.replace(os.path.join(a.model, "checksums.json.tmp"), os.path.join(a.model, "checksums.json"))

    cfg = json.load(open(os.path.join(a.model, "config.json")))
    size = os.path.getsize(os.path.join(a.model, "model.safetensors"))
    sources = collections.defaultdict(lambda: [0, 0, set(), ""])
    for line in open(os.path.join(a.corpus, "sources.jsonl")):
        r = json.loads(line)
        key = r["source"].split("/")[0] if "render" in r else r["source"]
        kind = "renders: " + ("music21 corpus" if r.get("render", {}).get("as_written") is None
                              else "planetblupi MIDI") if "render" in r else key
        s = sources[kind]
        s[0 if r["split"] == "train" else 1] += r["samples"] / 24000 / 3600
        s[2].add(r["track"])
        s[3] = r["licence"]
    scores, tasks = best_scores(a.probe)
    runs = [run_summary(r) for r in a.run]

    L = []
    L.append(f"# {os.path.basename(os.path.normpath(a.model))} — musefm's default model\n")
    hybrid = cfg.get("hybrid_features", "none")
    front = "1-D CNN front-end on 24 kHz audio" + (
        "" if hybrid == "none" else f" with {hybrid.upper()} frames (MERT's log-CQT) "
        "concatenated before the feature projection")
    L.append(f"A small MERT-style encoder (HuBERT architecture: {front}, "
             f"{cfg['num_hidden_layers']} transformer layers of {cfg['hidden_size']}, "
             f"{cfg['num_attention_heads']} heads, 75 frames/s) trained by masked prediction on "
             "this machine's CPUs. It is what `musefm extract`, `musefm probe` and "
             "`musefm::Encoder::load_default()` use when no model is named.\n")
    L.append("**What it is not:** it is not MERT, MusicFM or any published checkpoint, and it "
             "carries none of their weights. It saw tens of hours of game soundtracks and "
             "synthesised renders, not a broad catalogue: no singing voice, little modern "
             "production. Use a converted MERT-v1 / MusicFM checkpoint (`--model DIR`) where "
             "that matters.\n")
    L.append("## Files\n")
    L.append(f"- `config.json`: `{sums['config.json']}`")
    L.append(f"- `model.safetensors` ({size / 1e6:.1f} MB, fp32): `{sums['model.safetensors']}`")
    L.append("- `checksums.json`: the two checksums above; checked at every load. A changed or "
             "corrupted file is refused with a message naming it.\n")
    L.append("## Training data\n")
    L.append("| source | train h | valid h | tracks | licence |\n|---|---|---|---|---|")
    tot = [0, 0]
    for k in sorted(sources):
        s = sources[k]
        tot[0] += s[0]
        tot[1] += s[1]
        L.append(f"| {k} | {s[0]:.2f} | {s[1]:.2f} | {len(s[2])} | {s[3]} |")
    L.append(f"| **total** | **{tot[0]:.2f}** | **{tot[1]:.2f}** | | |\n")
    L.append("Recorded tracks are the Debian packages' files, cut into 30 s segments at 24 kHz mono; "
             "renders are FluidSynth with FluidR3_GM only (the probe suite's held-out soundfont, "
             "TimGM6mb, is never used in training). Valid holds whole tracks. Built by "
             "`tools/make_pretrain_corpus.py`.\n")
    L.append("## Recipe\n")
    for r in a.recipe:
        L.append(f"- `{r}`")
    for run, (steps, elapsed, last) in zip(a.run, runs):
        L.append(f"- run `{os.path.basename(os.path.normpath(run))}`: {steps} updates, "
                 f"{elapsed / 60:.0f} min of training on 2 CPU cores"
                 + (f"; final loss {last['loss']:.3f}" if last else ""))
    L.append(f"- total: {sum(r[1] for r in runs) / 60:.0f} min\n")
    L.append("## Probe scores\n")
    L.append("Generated suite (`tools/make_probe_data.py --seed 0`), test split, best layer chosen "
             "on valid, the higher of the linear and MLP probes (x 100). The twin is the same "
             "architecture untrained.\n")
    cols = [a.model_name, a.twin, "mfcc", "chroma"]
    L.append("| task | " + " | ".join(("this model" if c == a.model_name else "untrained twin"
                                        if c == a.twin else c) for c in cols) + " |")
    L.append("|---|" + "---|" * len(cols))
    means = {c: [] for c in cols}
    for t in tasks:
        row = []
        for c in cols:
            v = scores.get(c, {}).get(t)
            row.append(f"{v[0]:.1f}" if v else "–")
            if v:
                means[c].append(v[0])
        L.append(f"| {TASK_TITLES.get(t, t)} | " + " | ".join(row) + " |")
    L.append("| **mean** | " + " | ".join(f"**{sum(m) / len(m):.1f}**" if m else "–"
                                         for m in means.values()) + " |\n")
    L.append("## Rebuilding\n")
    L.append("`benchmarks/train_default_model.sh` rebuilds it from nothing (corpus, labels, "
             "pretraining, iteration 2 where `ITER2=1`, export, probes, this card); the runs listed "
             "under Recipe say which iterations this model went through.\n")
    if a.notes:
        L.append(open(a.notes).read())
    with open(os.path.join(a.model, "MODEL_CARD.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    print(f"wrote {a.model}/MODEL_CARD.md and checksums.json", file=sys.stderr)


if __name__ == "__main__":
    main()
