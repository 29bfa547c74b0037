#!/usr/bin/env python3
"""A notebook-sized linear probe with musefm and scikit-learn.

Makes a small labelled data set (synthetic notes; the label is the pitch class, one of C, D#,
F# and A, in a random octave, with a random timbre: sine, square or sawtooth, and random
loudness and decay), embeds every clip with musefm's Extractor (every layer, mean over time,
one batched call), then fits a logistic-regression probe per layer on a train split, picks
the layer on a validation split and scores it on a test split, next to the same probe on MFCC
statistics (musefm.features.mfcc, mean + std over time).

    python examples/python_probe.py                    # the shipped model
    python examples/python_probe.py --model models/X   # any musefm model dir
    python examples/python_probe.py --check 0.9        # exit 1 if the best layer scores less

Replace make_dataset() with your own (paths or arrays, labels) to probe a real task.
"""

import argparse
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import musefm

CLASSES = ["C", "D#", "F#", "A"]
TIMBRES = ["sine", "square", "sawtooth"]


def make_dataset(n_per_class, seconds, sample_rate, seed):
    """Clips [n, L] float32 and integer labels (pitch class) of one note each."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    clips, labels = [], []
    for label in range(len(CLASSES)):
        for i in range(n_per_class):
            semitone = 3 * label + 12 * rng.integers(0, 4)  # C2 .. A5
            f0 = 65.406 * 2 ** (semitone / 12) * 2 ** rng.uniform(-0.02, 0.02)
            phase = (f0 * t + rng.uniform()) % 1.0
            wave = {"sine": np.sin(2 * np.pi * phase),
                    "square": np.sign(np.sin(2 * np.pi * phase)),
                    "sawtooth": 2 * phase - 1}[TIMBRES[i % len(TIMBRES)]]
            envelope = np.minimum(1.0, t / 0.02) * np.exp(-t * rng.uniform(0.5, 2.0))
            noise = 0.01 * rng.standard_normal(t.shape)
            clips.append((rng.uniform(0.2, 0.6) * wave * envelope + noise).astype(np.float32))
            labels.append(label)
    return np.stack(clips), np.array(labels)


def probe(x_train, y_train, x_test, y_test):
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    return clf.fit(x_train, y_train).score(x_test, y_test)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="", help="musefm model dir (default: the shipped model)")
    ap.add_argument("--per-class", type=int, default=24, help="clips per class")
    ap.add_argument("--seconds", type=float, default=1.0, help="clip length")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", type=float, default=None,
                    help="exit 1 unless the chosen layer's test accuracy reaches this")
    args = ap.parse_args()

    encoder = musefm.Encoder.load(args.model) if args.model else musefm.Encoder.load_default()
    clips, labels = make_dataset(args.per_class, args.seconds, encoder.sample_rate, args.seed)
    train, rest = train_test_split(np.arange(len(labels)), test_size=0.5, stratify=labels,
                                   random_state=args.seed)
    valid, test = train_test_split(rest, test_size=0.5, stratify=labels[rest],
                                   random_state=args.seed)

    extractor = musefm.Extractor(encoder, layers="all", pool="mean", batch=8)
    emb = np.stack(extractor.extract(list(clips)))  # [clips, layers, hidden]
    valid_scores = [probe(emb[train, k], labels[train], emb[valid, k], labels[valid])
                    for k in range(emb.shape[1])]
    best = int(np.argmax(valid_scores))  # the layer is chosen on validation, never on test
    score = probe(emb[train, best], labels[train], emb[test, best], labels[test])

    mfcc = musefm.features.FeatureTransform("mfcc", sample_rate=encoder.sample_rate)
    stats = np.stack([np.concatenate([m.mean(0), m.std(0)]) for m in mfcc(clips)])
    baseline = probe(stats[train], labels[train], stats[test], labels[test])

    print(f"pitch class of {len(labels)} notes ({', '.join(CLASSES)}; random octave and timbre): "
          f"{len(train)} train / {len(valid)} valid / {len(test)} test, chance "
          f"{1 / len(CLASSES):.2f}")
    for k, s in enumerate(valid_scores):
        print(f"  layer {k:2d}: valid accuracy {s:.3f}")
    print(f"  layer {best} (best on valid): test accuracy {score:.3f}; "
          f"MFCC mean+std: {baseline:.3f}")
    if args.check is not None and score < args.check:
        print(f"python_probe: test accuracy {score:.3f} < --check {args.check}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
