#!/usr/bin/env python3
"""Plot a `musefm probe` report: test score against layer, one panel per task.

For every model x probe with several layers: the task's first metric on the test split (mean
over seeds, error bars = standard deviation) at each layer, the learned weighted sum of layers
as a dashed horizontal line of the same colour, and a star on the best layer (chosen on the
validation split, as in report.md). Single-layer sources (the MFCC / chroma baselines) are
dotted horizontal lines.

Run: .venv/bin/python tools/plot_probe.py runs/probe/report.json --out layers.png
"""
import argparse
import json
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def value(x):
    return math.nan if x is None else float(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("report", help="report.json written by musefm probe")
    ap.add_argument("--out", default="layers.png", help="PNG to write")
    ap.add_argument("--metric", help="metric to plot (default: each task's first metric)")
    args = ap.parse_args()
    with open(args.report) as f:
        report = json.load(f)
    tasks = list(report["tasks"])
    if not tasks:
        raise SystemExit(f"{args.report}: no results")
    cols = min(3, len(tasks))
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.8 * rows), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, task in zip(axes.flat, tasks):
        metric = args.metric or report["tasks"][task]["metrics"][0]
        groups = {}
        for r in report["rows"]:
            if r["task"] == task and metric in r["test"]:
                groups.setdefault((r["model"], r["probe"]), []).append(r)
        for i, ((model, probe), rs) in enumerate(groups.items()):
            c = colours[i % len(colours)]
            label = f"{model} {probe}"
            single = sorted((r for r in rs if r["layer"] != "weighted"), key=lambda r: r["layer"])
            weighted = [r for r in rs if r["layer"] == "weighted"]
            if rs[0]["num_layers"] == 1:
                ax.axhline(value(single[0]["test"][metric]["mean"]), color=c, ls=":", label=label)
                continue
            xs = [r["layer"] for r in single]
            ys = [value(r["test"][metric]["mean"]) for r in single]
            es = [value(r["test"][metric]["std"]) for r in single]
            ax.errorbar(xs, ys, yerr=es, color=c, marker="o", ms=3, capsize=2, label=label)
            for r in single:
                if r["best"]:
                    ax.plot(r["layer"], value(r["test"][metric]["mean"]), "*", color=c, ms=14)
            for r in weighted:
                ax.axhline(value(r["test"][metric]["mean"]), color=c, ls="--", lw=1,
                           label=f"{label} weighted" + (" (best)" if r["best"] else ""))
        ax.set_title(f"{task} ({report['tasks'][task]['type']})")
        ax.set_xlabel("layer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"test {metric}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    fig.suptitle("probe score by layer (★ best layer on validation; mean ± std over seeds)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
