#!/usr/bin/env python3
"""Probe sweep speed: `musefm probe` vs scikit-learn on the same cached features.

Data: seeded synthetic "cached features" shaped like a 13-layer, 768-dim encoder on the
nsynth_family task (13 classes, 520 / 130 / 130 clips by default): each layer mixes
class-dependent means of a different strength into Gaussian noise, so some layers are better
than others. They are written as a task folder (labels + tiny placeholder WAVs, which the task
check wants to exist) and as precomputed features, DIR/<task>/<split>.safetensors, read by
`musefm probe --model features:DIR` (no extraction is timed).

Sweeps (every single layer, 0..L-1; one seed; same thread count on both sides):
  linear  musefm: L2 softmax regression by L-BFGS for each l2 of its default grid
          {1e-2 .. 1e3} (6 values), chosen on valid.
          scikit-learn: StandardScaler + LogisticRegression(C = 1/l2, lbfgs) for the same grid,
          chosen on valid -- the same objective.
  mlp     musefm: MARBLE's head, Linear(H,512)-ReLU-Dropout(0.2)-Linear, Adam, batch 64, each lr
          of --lr-grid, ReduceLROnPlateau, early stopping on valid accuracy (patience 10), at
          most --epochs epochs (--fixed-epochs: no early stopping on either side, so both do
          the same number of epochs).
          scikit-learn: MLPClassifier((512,), alpha=0, adam, batch 64, the same lrs) trained one
          epoch at a time with partial_fit, valid accuracy after each epoch, the same early
          stopping and epoch cap; no dropout and a constant lr (sklearn has neither).
musefm is timed as the whole process (start, reading features, probes, report); scikit-learn
as the fits and scoring inside this process. Rounds are interleaved: each round runs every
side once, the order reversed every other round, so drift in a shared machine's load reaches
all alike. The speed-up is the median of the per-round ratios, with their range.

Run: cmake --build build --target musefm_cli &&
     .venv/bin/python benchmarks/compare_probe.py [--rounds 3] [--threads 2]
Quick: .venv/bin/python benchmarks/compare_probe.py --rounds 1 --lr-grid 1e-3 --epochs 30
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
L2_GRID = [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]  # musefm ProbeConfig::l2_grid default


def make_task(root, args):
    """Task folder + features dir; returns (task_dir, features_dir, {split: (x, y)})."""
    import soundfile as sf
    from safetensors.numpy import save_file
    rng = np.random.default_rng(0)
    task_dir = os.path.join(root, "task")
    feat_dir = os.path.join(root, "features")
    os.makedirs(os.path.join(feat_dir, "synthetic"))
    sizes = {"train": args.train, "valid": args.valid, "test": args.test}
    means = rng.normal(0, 1, (args.classes, args.dim)).astype(np.float32)
    strength = 0.04 + 0.12 * np.sin(np.linspace(0, np.pi, args.layers))  # best in the middle
    silence = np.zeros(240, np.float32)
    data = {}
    for split, n in sizes.items():
        os.makedirs(os.path.join(task_dir, "audio", split))
        y = np.arange(n) % args.classes
        rng.shuffle(y)
        x = rng.normal(0, 1, (n, args.layers, args.dim)).astype(np.float32)
        x += strength[None, :, None].astype(np.float32) * means[y][:, None, :]
        save_file({"features": x}, os.path.join(feat_dir, "synthetic", f"{split}.safetensors"))
        lines = ["path\tlabel"]
        for i in range(n):
            sf.write(os.path.join(task_dir, "audio", split, f"{i}.wav"), silence, 24000)
            lines.append(f"audio/{split}/{i}.wav\tc{y[i]}")
        with open(os.path.join(task_dir, f"{split}.tsv"), "w") as f:
            f.write("\n".join(lines) + "\n")
        data[split] = (x, y)
    spec = {"name": "synthetic", "type": "multiclass",
            "labels": [f"c{i}" for i in range(args.classes)],
            "splits": {s: f"{s}.tsv" for s in sizes}, "mode": {"kind": "clip"},
            "metrics": ["accuracy"], "sample_rate": 24000}
    with open(os.path.join(task_dir, "task.json"), "w") as f:
        json.dump(spec, f)
    return task_dir, feat_dir, data


def run_musefm(args, task_dir, feat_dir, probe, out):
    shutil.rmtree(out, ignore_errors=True)
    layers = ",".join(str(i) for i in range(args.layers))
    cmd = [args.musefm, "probe", "--model", f"features:{feat_dir}", "--task", task_dir,
           "--out", out, "--cache", "none", "--probe", probe, "--layers", layers, "--seeds", "1",
           "--threads", str(args.threads), "--quiet",
           "--set", f"lr_grid={json.dumps(args.lr_grid)}", "--set", f"max_epochs={args.epochs}"]
    if args.fixed_epochs:
        cmd += ["--set", f"early_stop_patience={args.epochs + 1}"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    with open(os.path.join(out, "report.json")) as f:
        rows = json.load(f)["rows"]
    acc = [r["test"]["accuracy"]["mean"] for r in sorted(rows, key=lambda r: r["layer"])]
    return wall, acc


def sklearn_linear(data, layer):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    (xt, yt), (xv, yv), (xs, ys) = (data[s] for s in ("train", "valid", "test"))
    sc = StandardScaler().fit(xt[:, layer].astype(np.float64))
    ft, fv, fs = (sc.transform(x[:, layer].astype(np.float64)) for x in (xt, xv, xs))
    best = (-1.0, None)
    for l2 in sorted(L2_GRID, reverse=True):
        clf = LogisticRegression(C=1.0 / l2, max_iter=500).fit(ft, yt)
        v = clf.score(fv, yv)
        if v > best[0]:
            best = (v, clf)
    return best[1].score(fs, ys)


def sklearn_mlp(data, layer, args):
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    (xt, yt), (xv, yv), (xs, ys) = (data[s] for s in ("train", "valid", "test"))
    sc = StandardScaler().fit(xt[:, layer])
    ft, fv, fs = (sc.transform(x[:, layer]) for x in (xt, xv, xs))
    classes = np.unique(yt)
    best = (-1.0, 0.0)
    for lr in args.lr_grid:
        clf = MLPClassifier((512,), alpha=0.0, batch_size=64, learning_rate_init=lr,
                            random_state=0)
        top, top_test, wait = -1.0, 0.0, 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for _ in range(args.epochs):
                clf.partial_fit(ft, yt, classes=classes)
                v = clf.score(fv, yv)
                if v > top:
                    top, top_test, wait = v, clf.score(fs, ys), 0
                else:
                    wait += 1
                    if wait >= 10 and not args.fixed_epochs:
                        break
        if top > best[0]:
            best = (top, top_test)
    return best[1]


def run_sklearn(args, data, probe):
    from threadpoolctl import threadpool_limits
    t0 = time.perf_counter()
    with threadpool_limits(args.threads):
        acc = [sklearn_linear(data, l) if probe == "linear" else sklearn_mlp(data, l, args)
               for l in range(args.layers)]
    return time.perf_counter() - t0, acc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--layers", type=int, default=13)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--classes", type=int, default=13)
    ap.add_argument("--train", type=int, default=520)
    ap.add_argument("--valid", type=int, default=130)
    ap.add_argument("--test", type=int, default=130)
    ap.add_argument("--lr-grid", type=float, nargs="+", default=[5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2])
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--fixed-epochs", action="store_true",
                    help="no early stopping on either side: both run exactly --epochs epochs per "
                         "lr and layer (same work, a throughput comparison)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--probes", nargs="+", default=["linear", "mlp"], choices=["linear", "mlp"])
    ap.add_argument("--musefm", default=os.path.join(ROOT, "build", "src", "cli", "musefm"))
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import sklearn
    import torch
    torch.set_num_threads(args.threads)
    times = {(p, side): [] for p in args.probes for side in ("musefm", "sklearn")}
    accs = {}
    with tempfile.TemporaryDirectory() as tmp:
        task_dir, feat_dir, data = make_task(tmp, args)
        for r in range(args.rounds):
            for probe in args.probes:
                sides = ["musefm", "sklearn"] if r % 2 == 0 else ["sklearn", "musefm"]
                for side in sides:
                    if side == "musefm":
                        s, acc = run_musefm(args, task_dir, feat_dir, probe, os.path.join(tmp, "out"))
                    else:
                        s, acc = run_sklearn(args, data, probe)
                    times[(probe, side)].append(s)
                    accs[(probe, side)] = acc
                    print(f"round {r + 1} {probe} {side}: {s:.1f} s, mean test accuracy over "
                          f"layers {np.mean(acc):.4f}", flush=True)
    print(f"\nProbe sweep: {args.layers} layers x {args.dim} dims, {args.classes} classes, "
          f"{args.train}/{args.valid}/{args.test} clips; lr grid {args.lr_grid}, <= {args.epochs} "
          f"epochs{' (fixed)' if args.fixed_epochs else ''}; {args.threads} threads; "
          f"{args.rounds} interleaved rounds; scikit-learn "
          f"{sklearn.__version__}, torch {torch.__version__}\n")
    print("| probe | musefm s (median) | scikit-learn s (median) | speed-up (median, range) "
          "| musefm acc | sklearn acc | best layer musefm / sklearn |")
    print("|---|---|---|---|---|---|---|")
    for probe in args.probes:
        m, s = times[(probe, "musefm")], times[(probe, "sklearn")]
        ratios = [b / a for a, b in zip(m, s)]
        am, asl = accs[(probe, "musefm")], accs[(probe, "sklearn")]
        print(f"| {probe} | {statistics.median(m):.1f} | {statistics.median(s):.1f} | "
              f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) | "
              f"{np.mean(am):.4f} | {np.mean(asl):.4f} | {int(np.argmax(am))} / "
              f"{int(np.argmax(asl))} |")
    print(f"\nCommand: .venv/bin/python benchmarks/compare_probe.py {' '.join(sys.argv[1:])}".rstrip())


if __name__ == "__main__":
    main()
