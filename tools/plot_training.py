#!/usr/bin/env python3
"""Training curves from musefm's JSONL training log(s).

Usage: .venv/bin/python tools/plot_training.py LOG.jsonl [more.jsonl ...] --out curves.png
       [--smooth N] [--title TEXT]

Panels: total loss, loss per target, masked accuracy per target, learning rate, gradient
norm, throughput (samples/s). Validation records are drawn as markers on the loss and
accuracy panels, skipped steps as red crosses on the total-loss panel, resume events as
dotted vertical lines (other events, e.g. checkpoint, are ignored). Each log is one run
(one colour); `--smooth N` draws an N-step trailing moving average over the raw (faint)
training curves.

Log lines (one JSON object each; unknown keys are ignored):
  {"step": 12, "lr": 1.2e-4, "loss": 5.31, "losses": {"km": 4.2, "cqt": 0.8},
   "accuracy": {"km": 0.12}, "grad_norm": 3.2, "samples_per_s": 4.1, "skipped": false, ...}
  {"step": 100, "valid": {"loss": 5.0, "losses": {...}, "accuracy": {"km": 0.2}}}
  {"event": "resume", "step": 80, ...}
Lines that are not JSON objects (the truncated last line of a killed run) are skipped with
a warning; a record that a resumed run appended to such a line is still read. When a
resumed run repeats steps, the later record of a step replaces the earlier one.
"""
import argparse
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


class LogError(Exception):
    """A log that cannot be plotted; the message names the file."""


def _num(v):
    """A finite float, or nan for anything else (missing, null, inf, non-numeric)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return math.nan
    return float(v) if math.isfinite(v) else math.nan


def _parse(line):
    """The JSON object on a line, or the one appended after a truncated record (a killed
    run's last line followed by a resumed run's first); None if there is none."""
    try:
        return json.loads(line)
    except ValueError:
        pass
    start = line.find('{"', 1)
    while start > 0:
        try:
            rec = json.loads(line[start:])
            return rec if isinstance(rec, dict) else None
        except ValueError:
            start = line.find('{"', start + 1)
    return None


class Run:
    """The records of one log file: train steps, validation points, events."""

    def __init__(self, path):
        self.path = path
        self.label = path
        self.train = {}  # step -> record (later lines win)
        self.valid = {}  # step -> valid dict
        self.events = []  # (step or None, name)
        self.bad_lines = []
        self._read()

    def _read(self):
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
        except OSError as e:
            raise LogError(f"{self.path}: cannot read: {e.strerror}") from None
        for no, line in enumerate(lines, 1):
            if not line.strip():
                continue
            rec = _parse(line)
            if not isinstance(rec, dict):
                self.bad_lines.append(no)
                continue
            self._add(rec)
        if not self.train and not self.valid:
            what = "is empty" if not any(l.strip() for l in lines) else (
                "has no training or validation records (lines with a numeric \"step\" and "
                "\"loss\" or \"valid\")")
            if self.bad_lines:
                what += f"; {len(self.bad_lines)} line(s) are not JSON objects (first: line " \
                        f"{self.bad_lines[0]})"
            raise LogError(f"{self.path}: {what}")

    def _add(self, rec):
        step = rec.get("step")
        has_step = isinstance(step, (int, float)) and not isinstance(step, bool)
        if "event" in rec:
            self.events.append((step if has_step else None, str(rec["event"])))
            return
        if not has_step:
            return
        if isinstance(rec.get("valid"), dict):
            self.valid[step] = rec["valid"]
        elif "loss" in rec:
            self.train[step] = rec

    def train_steps(self):
        return np.array(sorted(self.train), dtype=float)

    def series(self, key, sub=None, records=None):
        """Values of `key` (or `key[sub]`) per step, nan where absent."""
        records = self.train if records is None else records
        out = []
        for s in sorted(records):
            v = records[s].get(key)
            if sub is not None:
                v = v.get(sub) if isinstance(v, dict) else None
            out.append(_num(v))
        return np.array(out, dtype=float)

    def targets(self, key):
        """Target names under the dict-valued `key` (e.g. losses, accuracy), first-seen order."""
        names = []
        for records in (self.train, self.valid):
            for rec in records.values():
                d = rec.get(key)
                if isinstance(d, dict):
                    names += [k for k in d if k not in names]
        return names


def moving_average(y, n):
    """Trailing mean over the last n finite points (the first points average fewer)."""
    if n <= 1 or len(y) == 0:
        return y
    finite = np.isfinite(y)
    csum = np.concatenate([[0.0], np.cumsum(np.where(finite, y, 0.0))])
    ccnt = np.concatenate([[0], np.cumsum(finite)])
    idx = np.arange(1, len(y) + 1)
    lo = np.maximum(idx - n, 0)
    cnt = ccnt[idx] - ccnt[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (csum[idx] - csum[lo]) / cnt
    out[cnt == 0] = np.nan
    return out


def draw_train(ax, x, y, color, label, smooth, style="-"):
    if not np.isfinite(y).any():
        return False
    if smooth > 1:
        ax.plot(x, y, style, color=color, alpha=0.25, linewidth=0.8)
        ax.plot(x, moving_average(y, smooth), style, color=color, label=label, linewidth=1.4)
    else:
        ax.plot(x, y, style, color=color, label=label, linewidth=1.2)
    return True


def draw_valid(ax, run, key, sub, color, label):
    steps = np.array(sorted(run.valid), dtype=float)
    y = run.series(key, sub, records=run.valid)
    ok = np.isfinite(y)
    if not ok.any():
        return False
    ax.plot(steps[ok], y[ok], "o--", color=color, markersize=4, linewidth=0.8, label=label)
    return True


STYLES = ["-", "--", ":", "-."]
MARKED_EVENTS = {"resume"}  # drawn as vertical lines; others (checkpoint, unreadable) are not


def plot(runs, out, smooth, title):
    fig, axes = plt.subplots(3, 2, figsize=(13, 11), sharex=True)
    ax_loss, ax_targets, ax_acc, ax_lr, ax_gn, ax_tp = axes.ravel()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    drawn = {a: False for a in axes.ravel()}
    many = len(runs) > 1
    for i, run in enumerate(runs):
        c = colors[i % len(colors)]
        prefix = f"{run.label}: " if many else ""
        x = run.train_steps()

        loss = run.series("loss")
        drawn[ax_loss] |= draw_train(ax_loss, x, loss, c, f"{prefix}train", smooth)
        drawn[ax_loss] |= draw_valid(ax_loss, run, "loss", None, c, f"{prefix}valid")
        skipped = np.array([run.train[s].get("skipped") is True for s in sorted(run.train)],
                           dtype=bool)
        if skipped.any():
            ys = np.where(np.isfinite(loss[skipped]), loss[skipped], np.nanmin(loss)
                          if np.isfinite(loss).any() else 0.0)
            ax_loss.plot(x[skipped], ys, "x", color="red", markersize=6,
                         label=f"{prefix}skipped ({int(skipped.sum())})")
            drawn[ax_loss] = True

        for j, name in enumerate(run.targets("losses")):
            st = STYLES[j % len(STYLES)]
            drawn[ax_targets] |= draw_train(ax_targets, x, run.series("losses", name), c,
                                            f"{prefix}{name}", smooth, st)
            drawn[ax_targets] |= draw_valid(ax_targets, run, "losses", name, c,
                                            f"{prefix}{name} (valid)")
        for j, name in enumerate(run.targets("accuracy")):
            st = STYLES[j % len(STYLES)]
            drawn[ax_acc] |= draw_train(ax_acc, x, run.series("accuracy", name), c,
                                        f"{prefix}{name}", smooth, st)
            drawn[ax_acc] |= draw_valid(ax_acc, run, "accuracy", name, c,
                                        f"{prefix}{name} (valid)")
        drawn[ax_lr] |= draw_train(ax_lr, x, run.series("lr"), c, run.label, 1)
        drawn[ax_gn] |= draw_train(ax_gn, x, run.series("grad_norm"), c, run.label, smooth)
        drawn[ax_tp] |= draw_train(ax_tp, x, run.series("samples_per_s"), c, run.label, smooth)

        for step, name in run.events:
            if step is None or name not in MARKED_EVENTS:
                continue
            for ax in axes.ravel():
                ax.axvline(step, color=c, linestyle=":", linewidth=0.8, alpha=0.7, gid="event")
            ax_loss.annotate(name, (step, 1.0), xycoords=("data", "axes fraction"),
                             rotation=90, va="top", ha="right", fontsize=7, color=c)

    titles = {ax_loss: "total loss", ax_targets: "loss per target",
              ax_acc: "masked accuracy per target", ax_lr: "learning rate",
              ax_gn: "gradient norm (before clipping)", ax_tp: "throughput (samples/s)"}
    for ax, t in titles.items():
        ax.set_title(t, fontsize=10)
        ax.grid(True, alpha=0.3)
        if drawn[ax]:
            ax.legend(fontsize=7, loc="best")
        else:
            ax.text(0.5, 0.5, "not in the log", ha="center", va="center",
                    transform=ax.transAxes, color="gray")
    _log_scale_if_wide(ax_gn)
    _log_scale_if_wide(ax_targets)
    for ax in axes[-1]:
        ax.set_xlabel("step")
    sup = title or ", ".join(r.label for r in runs)
    if smooth > 1:
        sup += f" (moving average over {smooth} steps)"
    fig.suptitle(sup, fontsize=11)
    fig.tight_layout()
    _save(fig, out)
    plt.close(fig)


def _log_scale_if_wide(ax):
    """Log y axis when the positive data spans more than two decades."""
    ys = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()
                         if line.get_gid() != "event"] or [np.array([])])
    ys = np.asarray(ys, dtype=float)
    ys = ys[np.isfinite(ys)]
    if len(ys) and ys.min() > 0 and ys.max() / ys.min() > 100:
        ax.set_yscale("log")


def _save(fig, out):
    """Write to a temporary name beside `out`, then rename (no half-written image)."""
    ext = os.path.splitext(out)[1].lstrip(".").lower() or "png"
    tmp = f"{out}.tmp.{os.getpid()}"
    try:
        fig.savefig(tmp, format=ext, dpi=110)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def labels_for(paths):
    """File names, or parent/file where two logs share a file name."""
    names = [os.path.basename(p) for p in paths]
    if len(set(names)) == len(names):
        return names
    return [os.path.join(os.path.basename(os.path.dirname(os.path.abspath(p))), n)
            for p, n in zip(paths, names)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("logs", nargs="+", help="musefm JSONL training log(s)")
    ap.add_argument("--out", default="curves.png", help="image to write (png, svg, pdf)")
    ap.add_argument("--smooth", type=int, default=1, metavar="N",
                    help="trailing moving average over N steps (1: none)")
    ap.add_argument("--title", default=None)
    args = ap.parse_args(argv)
    if args.smooth < 1:
        ap.error("--smooth must be >= 1")
    try:
        runs = [Run(p) for p in args.logs]
    except LogError as e:
        print(f"plot_training: {e}", file=sys.stderr)
        return 1
    for run, label in zip(runs, labels_for(args.logs)):
        run.label = label
        if run.bad_lines:
            shown = ", ".join(map(str, run.bad_lines[:5])) + (" ..." if len(run.bad_lines) > 5
                                                               else "")
            print(f"plot_training: {run.path}: skipped {len(run.bad_lines)} line(s) that are "
                  f"not JSON objects (line {shown})", file=sys.stderr)
    try:
        plot(runs, args.out, args.smooth, args.title)
    except (OSError, ValueError) as e:
        print(f"plot_training: {args.out}: cannot write: {e}", file=sys.stderr)
        return 1
    n = sum(len(r.train) for r in runs)
    v = sum(len(r.valid) for r in runs)
    print(f"wrote {args.out}: {len(runs)} log(s), {n} training steps, {v} validation points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
