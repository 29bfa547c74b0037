#!/usr/bin/env python3
"""Fixtures for the linear-probe parity tests (tests/test_probe.cpp), from scikit-learn:

  tests/fixtures/probe/
    multiclass_{train,valid,test}.npy   float32 [N, 16] features: 5 overlapping Gaussian
                                        classes (anisotropic, shared noise directions)
    multilabel_{train,valid,test}.npy   float32 [N, 12]: 4 labels, each a noisy linear rule
    regression_{train,valid,test}.npy   float32 [N, 10]: 2 targets, linear + noise + a square
    expected.json                       labels / targets of every split and scikit-learn's
                                        results on the test split (below)

Every model sees the features as float64 standardised with train statistics
(StandardScaler), exactly what musefm's probes do, and uses the same regularisation:
  multiclass  LogisticRegression(C=1/l2, lbfgs, tol 1e-10, max_iter 10000)  -> accuracy,
              macro-F1, predicted classes, class probabilities of the first 8 test rows
  multilabel  one LogisticRegression(C=1/l2) per label                     -> macro ROC-AUC /
              average precision of the probabilities
  regression  Ridge(alpha=l2) on targets standardised with train statistics -> r2_score of
              the back-transformed predictions
with l2 = 1. The C++ linear probe must land within 1 point of these (the test's tolerance).

and, for the chroma baseline of `musefm probe` (tests/test_cli_probe.cpp), from librosa:
    chroma_baseline.npy                 float32 [24]: mean and standard deviation over frames
                                        of librosa.feature.chroma_cqt(y, sr=22050) with
                                        y = librosa.load(tests/fixtures/real_24k.wav, sr=22050)
                                        (soxr_hq resampling, librosa's default)
    resampled_16k.npy                   float32: librosa.load(real_24k.wav, sr=16000)

Run: .venv/bin/python tools/make_probe_fixtures.py   (deterministic, seed 0)
"""
import json
import os

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, r2_score, \
    roc_auc_score
from sklearn.preprocessing import StandardScaler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "probe")
SIZES = {"train": 300, "valid": 100, "test": 200}
L2 = 1.0


def save_splits(name, xs):
    for split, x in xs.items():
        np.save(os.path.join(OUT, f"{name}_{split}.npy"), x.astype(np.float32))


def scaled(xs):
    """float64 features standardised with train statistics (as the C++ probe does)."""
    f = {s: x.astype(np.float32).astype(np.float64) for s, x in xs.items()}
    sc = StandardScaler().fit(f["train"])
    return {s: sc.transform(x) for s, x in f.items()}


def multiclass(rng):
    c, d = 5, 16
    means = rng.normal(0, 0.45, (c, d))
    mix = rng.normal(0, 1, (d, d)) / np.sqrt(d)
    xs, ys = {}, {}
    for split, n in SIZES.items():
        y = np.arange(n) % c
        rng.shuffle(y)
        xs[split] = (means[y] + rng.normal(0, 1.1, (n, d)) @ mix + rng.normal(0, 0.5, (n, d))) * 3 + 1
        ys[split] = y
    save_splits("multiclass", xs)
    f = scaled(xs)
    clf = LogisticRegression(C=1 / L2, tol=1e-10, max_iter=10000).fit(f["train"], ys["train"])
    pred = clf.predict(f["test"])
    return {"num_classes": c, "labels": {s: [int(v) for v in y] for s, y in ys.items()},
            "test_accuracy": float(accuracy_score(ys["test"], pred)),
            "test_macro_f1": float(f1_score(ys["test"], pred, average="macro")),
            "valid_accuracy": float(accuracy_score(ys["valid"], clf.predict(f["valid"]))),
            "test_pred": [int(v) for v in pred],
            "test_proba_head": np.round(clf.predict_proba(f["test"][:8]), 6).tolist()}


def multilabel(rng):
    k, d = 4, 12
    w = rng.normal(0, 1, (d, k))
    xs, ys = {}, {}
    for split, n in SIZES.items():
        x = rng.normal(0, 1, (n, d)) * rng.uniform(0.5, 3, d)
        y = ((x / 2) @ w + rng.normal(0, 1.5, (n, k)) > 0.3).astype(int)
        xs[split], ys[split] = x, y
    save_splits("multilabel", xs)
    f = scaled(xs)
    proba = np.stack([LogisticRegression(C=1 / L2, tol=1e-10, max_iter=10000)
                      .fit(f["train"], ys["train"][:, j]).predict_proba(f["test"])[:, 1]
                      for j in range(k)], 1)
    return {"num_labels": k, "labels": {s: y.tolist() for s, y in ys.items()},
            "test_roc_auc": float(roc_auc_score(ys["test"], proba, average="macro")),
            "test_pr_auc": float(average_precision_score(ys["test"], proba, average="macro"))}


def regression(rng):
    k, d = 2, 10
    w = rng.normal(0, 1, (d, k))
    xs, ys = {}, {}
    for split, n in SIZES.items():
        x = rng.normal(0, 1, (n, d))
        y = x @ w + 0.3 * x[:, :1] ** 2 + rng.normal(0, 1.0, (n, k))
        xs[split], ys[split] = x, np.round(y * [20, 0.5] + [120, 3], 6)  # bpm-like, small
    save_splits("regression", xs)
    f = scaled(xs)
    mu, sd = ys["train"].mean(0), ys["train"].std(0)
    ridge = Ridge(alpha=L2).fit(f["train"], (ys["train"] - mu) / sd)
    pred = ridge.predict(f["test"]) * sd + mu
    return {"num_targets": k, "targets": {s: y.tolist() for s, y in ys.items()},
            "test_r2": float(r2_score(ys["test"], pred))}


def baselines():
    import librosa  # only needed here
    wav = os.path.join(ROOT, "tests", "fixtures", "real_24k.wav")
    y, sr = librosa.load(wav, sr=22050)
    chroma = librosa.feature.chroma_cqt(y=y, sr=sr)
    feats = np.concatenate([chroma.mean(axis=1), chroma.std(axis=1)]).astype(np.float32)
    np.save(os.path.join(OUT, "chroma_baseline.npy"), feats)
    y16, _ = librosa.load(wav, sr=16000)
    np.save(os.path.join(OUT, "resampled_16k.npy"), y16.astype(np.float32))
    return {"librosa": librosa.__version__}


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(0)
    expected = {"versions": {"scikit-learn": sklearn.__version__, "numpy": np.__version__},
                "l2": L2, "sizes": SIZES,
                "multiclass": multiclass(rng), "multilabel": multilabel(rng),
                "regression": regression(rng)}
    expected["versions"].update(baselines())
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
        f.write("\n")
    m = expected["multiclass"]
    print(f"multiclass test accuracy {m['test_accuracy']:.4f} (valid {m['valid_accuracy']:.4f}); "
          f"multilabel ROC-AUC {expected['multilabel']['test_roc_auc']:.4f}; "
          f"regression R2 {expected['regression']['test_r2']:.4f}")


if __name__ == "__main__":
    main()
