#!/usr/bin/env python3
"""Fixtures for the probe metrics' tests (tests/test_metrics.cpp), from the reference
implementations scikit-learn and mir_eval:

  tests/fixtures/metrics/
    classification.json  labels / predictions -> accuracy_score, f1_score(average="macro",
                         labels=range(C), zero_division=0) and its per-class values
    ranking.json         multilabel y_true (N x C, 0/1) + scores -> roc_auc_score and
                         average_precision_score (average="macro" and per class); multiclass
                         labels + probabilities -> roc_auc_score(multi_class="ovr")
    regression.json      y_true / y_pred (N x D) -> r2_score (uniform_average, raw_values)
    beat.json            mir_eval.beat.f_measure on beat lists (jitter, misses, octave errors)
    key.json             mir_eval.key.weighted_score for all 24 x 24 key pairs, the key names
                         mir_eval accepts with their semitones, and a random accuracy case

Cases cover random data, tied scores, perfect predictions, a class never predicted, a class in
neither labels nor predictions, and single-valued multilabel columns. Where scikit-learn gives
NaN for a class (a y_true column that is all 0 or all 1; ROC-AUC) the expected macro value is
the mean over the other classes, and "skipped" counts the left-out classes (the C++ functions
skip such classes for both ROC-AUC and average precision). Scores are rounded to 4 decimals so
the JSON stays small and parses to the same doubles in C++.

Run: .venv/bin/python tools/make_metric_fixtures.py   (deterministic)
"""
import json
import os
import warnings

import mir_eval
import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, average_precision_score, f1_score, r2_score,
                             roc_auc_score)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "metrics")
VERSIONS = {"scikit-learn": sklearn.__version__, "mir_eval": mir_eval.__version__,
            "numpy": np.__version__}


def noisy_labels(rng, n, c, keep):
    """Labels 0..c-1 and predictions equal to them with probability `keep`."""
    y = rng.integers(0, c, n)
    pred = np.where(rng.random(n) < keep, y, rng.integers(0, c, n))
    return y, pred


def classification(rng):
    cases = []

    def add(name, y, pred, c):
        y, pred = [int(v) for v in y], [int(v) for v in pred]
        cases.append({
            "name": name, "num_classes": c, "y_true": y, "y_pred": pred,
            "accuracy": float(accuracy_score(y, pred)),
            "macro_f1": float(f1_score(y, pred, average="macro", labels=list(range(c)),
                                       zero_division=0)),
            "f1_per_class": [float(v) for v in f1_score(
                y, pred, average=None, labels=list(range(c)), zero_division=0)],
        })

    y, pred = noisy_labels(rng, 40, 5, 0.6)
    add("random", y, pred, 5)
    add("perfect", y, y, 5)
    y, pred = noisy_labels(rng, 30, 4, 0.5)
    add("class_2_never_predicted", y, np.where(pred == 2, 3, pred), 4)
    y, pred = noisy_labels(rng, 25, 4, 0.7)
    add("class_5_absent_everywhere", y, pred, 6)  # classes 4, 5 in neither: F1 0, still count
    add("all_wrong", [0, 1, 1, 2], [1, 2, 0, 0], 3)
    return cases


def multilabel_expected(y, s):
    """sklearn macro ROC-AUC / AP over the columns holding both labels, and per-class values."""
    keep = [c for c in range(y.shape[1]) if 0 < y[:, c].sum() < y.shape[0]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # single-valued columns: UndefinedMetricWarning
        roc_per = roc_auc_score(y, s, average=None)
        ap_per = average_precision_score(y, s, average=None)
    roc_out = [float(v) if c in keep else None for c, v in enumerate(roc_per)]
    ap_out = [float(v) if c in keep else None for c, v in enumerate(ap_per)]
    return {
        "roc_auc_macro": float(roc_auc_score(y[:, keep], s[:, keep], average="macro")),
        "pr_auc_macro": float(average_precision_score(y[:, keep], s[:, keep], average="macro")),
        "roc_auc_per_class": roc_out, "pr_auc_per_class": ap_out,
        "skipped": y.shape[1] - len(keep),
    }


def ranking(rng):
    multilabel, ovr = [], []

    def add_ml(name, y, s):
        s = np.round(s, 4)
        case = {"name": name, "y_true": y.astype(int).tolist(), "scores": s.tolist()}
        case.update(multilabel_expected(y, s))
        multilabel.append(case)

    n, c = 30, 4
    y = (rng.random((n, c)) < [0.2, 0.4, 0.5, 0.7]).astype(int)
    add_ml("random", y, y * 0.8 + rng.normal(0.0, 0.6, (n, c)))
    add_ml("ties", y, np.round(y * 0.3 + rng.random((n, c)) * 0.6, 1))  # 7 levels: many ties
    add_ml("all_tied", y, np.full((n, c), 0.25))  # ROC 0.5, AP = prevalence
    add_ml("perfect", y, y + rng.random((n, c)) * 0.5)
    y2 = y.copy()
    y2[:, 1] = 0  # never positive
    y2[:, 3] = 1  # always positive
    add_ml("single_valued_columns", y2, y2 * 0.5 + rng.random((n, c)))

    def add_ovr(name, labels, probs, c):
        probs = np.round(probs, 4)
        probs[:, -1] = np.round(1.0 - probs[:, :-1].sum(axis=1), 4)  # rows sum to 1
        labels = [int(v) for v in labels]
        present = sorted(set(labels))
        if c == 2:  # sklearn's binary path scores the positive class's column
            value = roc_auc_score(labels, probs[:, 1])
        elif len(present) == c:  # sklearn's multiclass path accepts it
            value = roc_auc_score(labels, probs, multi_class="ovr", average="macro")
        else:  # sklearn refuses (classes != columns): mean over the classes present
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                per = roc_auc_score(np.eye(c, dtype=int)[labels], probs, average=None)
            value = float(np.mean([per[k] for k in present]))
        ovr.append({"name": name, "y_true": labels, "scores": probs.tolist(),
                    "roc_auc_ovr_macro": float(value), "skipped": c - len(present)})

    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    labels = rng.integers(0, 4, 36)
    add_ovr("random", labels, softmax(np.eye(4)[labels] * 1.5 + rng.normal(0, 1, (36, 4))), 4)
    prototypes = softmax(rng.normal(0, 1, (3, 4)))  # 3 distinct rows only: heavy ties
    add_ovr("ties", labels, prototypes[rng.integers(0, 3, 36)], 4)
    binary = rng.integers(0, 2, 24)
    p1 = np.clip(binary * 0.4 + rng.random(24) * 0.6, 0, 1)
    add_ovr("binary", binary, np.stack([1 - p1, p1], axis=1), 2)
    missing = np.where(labels == 2, 0, labels)  # class 2 absent from y_true: skipped
    add_ovr("class_2_absent", missing, softmax(rng.normal(0, 1, (36, 4))), 4)
    return {"multilabel": multilabel, "ovr": ovr}


def regression(rng):
    cases = []

    def add(name, t, p):
        t, p = np.round(t, 4), np.round(p, 4)
        cases.append({"name": name, "y_true": t.tolist(), "y_pred": p.tolist(),
                      "r2": float(r2_score(t, p)),
                      "r2_per_output": [float(v) for v in
                                        r2_score(t, p, multioutput="raw_values")]})

    t = rng.normal(0, 1, (20, 3)) * [1.0, 5.0, 0.1]
    add("random", t, t + rng.normal(0, 0.5, (20, 3)) * [1.0, 5.0, 0.1])
    add("perfect", t, t)
    add("worse_than_mean", t, -t)
    t1 = rng.normal(0, 1, (12, 1))
    add("single_output", t1, 0.5 * t1 + 0.1)
    tc = np.column_stack([np.full(10, 2.0), np.full(10, -1.5), rng.normal(0, 1, 10)])
    pc = np.column_stack([np.full(10, 2.0), rng.normal(-1.5, 0.1, 10), rng.normal(0, 1, 10)])
    add("constant_columns", tc, pc)  # exact constant predicted: 1; mispredicted: 0
    return cases


def key(rng):
    names = [f"{t} {m}" for m in ("major", "minor") for t in
             ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")]
    scores = [[float(mir_eval.key.weighted_score(r, e)) for e in names] for r in names]
    accepted = []
    for tonic, semitone in mir_eval.key.KEY_TO_SEMITONE.items():
        if semitone is None:
            continue
        for m, mode in enumerate(("major", "minor")):
            for spelled in (tonic.upper() if len(tonic) == 1 else tonic.capitalize(), tonic):
                mir_eval.key.validate_key(f"{spelled} {mode}")
                accepted.append([f"{spelled} {mode}", semitone + 12 * m])
    t, p = rng.integers(0, 24, 50), rng.integers(0, 24, 50)
    p[:20] = t[:20]
    p[20:25] = (t[20:25] % 12 + 7) % 12 + 12 * (t[20:25] // 12)  # fifths above
    acc = float(np.mean([mir_eval.key.weighted_score(names[a], names[b]) for a, b in zip(t, p)]))
    return {"index_names": names, "weighted_score": scores, "accepted_names": accepted,
            "accuracy_case": {"true": t.tolist(), "pred": p.tolist(), "accuracy": acc}}


def beat(rng):
    """mir_eval.beat.f_measure (window 0.07 s, no trimming) on beat grids with jitter, missed
    and extra beats, tempo-octave errors, an empty estimate, and times on the window's edge."""
    cases = []

    def add(name, ref, est):
        ref, est = np.asarray(ref, float), np.asarray(est, float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # mir_eval warns on empty lists
            f = float(mir_eval.beat.f_measure(ref, est))
        cases.append({"name": name, "reference": ref.tolist(), "estimated": est.tolist(),
                      "f_measure": f})

    for k in range(30):
        period = 60.0 / rng.uniform(60, 180)
        ref = np.arange(rng.uniform(0, period), 8.0, period)
        est = ref + rng.normal(0, rng.choice([0.01, 0.03, 0.06]), ref.size)
        keep = rng.random(est.size) > rng.choice([0.0, 0.1, 0.3])
        est = est[keep]
        extra = rng.uniform(0, 8.0, rng.integers(0, 4))
        est = np.sort(np.clip(np.concatenate([est, extra]), 0, None))
        if k % 5 == 0:
            est = np.sort(np.concatenate([est, est[: est.size // 3]]))  # duplicates
        add(f"grid{k}", ref, est)
    ref = np.arange(0.5, 8.0, 0.5)
    add("double_tempo", ref, np.arange(0.5, 8.0, 0.25))
    add("half_tempo", ref, np.arange(0.5, 8.0, 1.0))
    add("off_beat", ref, ref + 0.25)
    add("empty_estimate", ref, [])
    add("empty_reference", [], ref)
    add("window_edge", [1.0, 2.0, 3.0], [1.07, 1.93, 3.0700001])
    return cases


def write(name, payload):
    payload = {"generated_by": "tools/make_metric_fixtures.py", "versions": VERSIONS, **payload}
    path = os.path.join(OUT, name)
    with open(path + ".tmp", "w") as f:
        json.dump(payload, f, separators=(",", ":"))
        f.write("\n")
    os.replace(path + ".tmp", path)
    print(f"{path}: {os.path.getsize(path)} bytes")


def main():
    os.makedirs(OUT, exist_ok=True)
    write("classification.json", {"cases": classification(np.random.default_rng(1))})
    write("ranking.json", ranking(np.random.default_rng(2)))
    write("regression.json", {"cases": regression(np.random.default_rng(3))})
    write("key.json", key(np.random.default_rng(4)))
    write("beat.json", {"cases": beat(np.random.default_rng(5))})


if __name__ == "__main__":
    main()
