#!/usr/bin/env python3
"""Compares two musefm model directories exactly: config.json (parsed, key by key),
model.safetensors metadata, and every tensor's name, dtype, shape and bits (NaNs equal).

  check_model_dir.py EXPECTED ACTUAL

Exit status 0 when identical; otherwise 1 with one line per difference (first 50), e.g.
  config.json: mel_std: expected 18.4, got 1.0
  model.safetensors: conv.linear.weight: 3 of 8192 values differ (max |diff| 0.5 at [1, 7])
Format-independent: any config.json / model.safetensors pair (MERT, MusicFM, ...).
Run with the project venv: .venv/bin/python tools/check_model_dir.py A B
"""
import json
import os
import sys

import torch
from safetensors import safe_open

MAX_LINES = 50


def load_config(directory, problems):
    path = os.path.join(directory, "config.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        problems.append(f"config.json: cannot read {path}: {e}")
        return None


def compare_configs(expected, actual, problems):
    if not isinstance(expected, dict) or not isinstance(actual, dict):
        if expected != actual:
            problems.append(f"config.json: expected {expected!r}, got {actual!r}")
        return
    for key in sorted(set(expected) | set(actual)):
        if key not in actual:
            problems.append(f"config.json: {key}: missing (expected {expected[key]!r})")
        elif key not in expected:
            problems.append(f"config.json: {key}: unexpected (= {actual[key]!r})")
        elif type(expected[key]) is not type(actual[key]) or expected[key] != actual[key]:
            problems.append(f"config.json: {key}: expected {expected[key]!r}, got "
                            f"{actual[key]!r}")


def open_tensors(directory, problems):
    path = os.path.join(directory, "model.safetensors")
    try:
        return safe_open(path, framework="pt")
    except Exception as e:  # noqa: BLE001 - any parse failure is a difference to report
        problems.append(f"model.safetensors: cannot read {path}: {e}")
        return None


def tensor_difference(a, b):
    """None when a and b are identical bit for bit (as values: NaN == NaN), else a description."""
    if a.dtype != b.dtype:
        return f"dtype: expected {a.dtype}, got {b.dtype}"
    if a.shape != b.shape:
        return f"shape: expected {list(a.shape)}, got {list(b.shape)}"
    if a.dtype == torch.bool:
        same = a == b
    else:
        same = (a == b) | (torch.isnan(a) & torch.isnan(b)) if a.is_floating_point() else a == b
    if bool(same.all()):
        return None
    differ = ~same
    first = [int(i) for i in differ.nonzero()[0]] if a.dim() else []
    detail = ""
    if a.is_floating_point() or a.is_complex():
        delta = (a.double() - b.double()).abs()
        delta[~differ] = 0
        detail = f", max |diff| {delta.nan_to_num(float('inf')).max().item():.6g}"
    return f"{int(differ.sum())} of {a.numel()} values differ (first at {first}{detail})"


def compare_tensors(expected, actual, problems):
    meta_e, meta_a = expected.metadata() or {}, actual.metadata() or {}
    if meta_e != meta_a:
        problems.append(f"model.safetensors: metadata: expected {meta_e}, got {meta_a}")
    names_e, names_a = set(expected.keys()), set(actual.keys())
    problems += [f"model.safetensors: {n}: missing" for n in sorted(names_e - names_a)]
    problems += [f"model.safetensors: {n}: unexpected" for n in sorted(names_a - names_e)]
    for name in sorted(names_e & names_a):
        diff = tensor_difference(expected.get_tensor(name), actual.get_tensor(name))
        if diff:
            problems.append(f"model.safetensors: {name}: {diff}")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    expected_dir, actual_dir = sys.argv[1:]
    problems = []
    compare_configs(load_config(expected_dir, problems), load_config(actual_dir, problems),
                    problems)
    expected, actual = open_tensors(expected_dir, problems), open_tensors(actual_dir, problems)
    if expected is not None and actual is not None:
        compare_tensors(expected, actual, problems)
    if problems:
        shown = problems[:MAX_LINES]
        more = f"\n  ... and {len(problems) - MAX_LINES} more" if len(problems) > MAX_LINES else ""
        sys.exit(f"check_model_dir: {actual_dir} differs from {expected_dir} "
                 f"({len(problems)} difference(s)):\n  " + "\n  ".join(shown) + more)
    print(f"check_model_dir: {actual_dir} matches {expected_dir}")


if __name__ == "__main__":
    main()
