#!/usr/bin/env python3
"""Writes variants of a fairseq MERT checkpoint for the fairseq-mert converter's error tests.

  make_fairseq_broken.py SRC.pt OUTDIR

OUTDIR/<case>.pt for each case (legacy_args: see below):
  missing_key         encoder.layers.1.fc1.weight removed
  unexpected_key      encoder.layers.0.self_attn.bias_k added (fairseq's add_bias_kv)
  misshaped_key       post_extract_proj.weight with one input column less
  all_problems        the three above in one file (all must be reported together)
  unsupported_option  cfg model deepnorm=true and feature_extractor_cqt=true
  unsafe_conv_layers  conv_feature_layers holding a function call instead of a layer list
  untrusted_pickle    a pickled class (fractions.Fraction) in extra_state
  legacy_args         the same weights in the older layout {"args": argparse.Namespace, ...}
                      with a numpy scalar in extra_state; converts like SRC.pt. Written as
                      OUTDIR/legacy_args/<name of SRC>, so that its conversion records the same
                      source name (safetensors metadata converted_from) as SRC's.

Run with the project venv; the tests in tests/convert_fairseq.cmake call it at test time.
"""
import argparse
import copy
import fractions
import os
import sys

import numpy as np
import torch


def missing_key(ckpt):
    del ckpt["model"]["encoder.layers.1.fc1.weight"]


def unexpected_key(ckpt):
    H = ckpt["cfg"]["model"]["encoder_embed_dim"]
    ckpt["model"]["encoder.layers.0.self_attn.bias_k"] = torch.zeros(1, 1, H)


def misshaped_key(ckpt):
    w = ckpt["model"]["post_extract_proj.weight"]
    ckpt["model"]["post_extract_proj.weight"] = w[:, :-1].clone()


def all_problems(ckpt):
    for case in (missing_key, unexpected_key, misshaped_key):
        case(ckpt)


def unsupported_option(ckpt):
    ckpt["cfg"]["model"].update(deepnorm=True, feature_extractor_cqt=True)


def unsafe_conv_layers(ckpt):
    ckpt["cfg"]["model"]["conv_feature_layers"] = "__import__('os').getcwd()"


def untrusted_pickle(ckpt):
    ckpt["extra_state"]["previous_training_time"] = fractions.Fraction(1, 3)


def legacy_args(ckpt):
    cfg = ckpt.pop("cfg")
    flat = dict(cfg["task"], **cfg["model"])
    flat.pop("_name")
    ckpt["args"] = argparse.Namespace(arch=cfg["model"]["_name"], task=cfg["task"]["_name"], **flat)
    ckpt["extra_state"]["previous_training_time"] = np.float64(12.5)


CASES = (missing_key, unexpected_key, misshaped_key, all_problems, unsupported_option,
         unsafe_conv_layers, untrusted_pickle, legacy_args)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1:]
    base = torch.load(src, map_location="cpu", weights_only=True)
    os.makedirs(out, exist_ok=True)
    for case in CASES:
        ckpt = copy.deepcopy(base)
        case(ckpt)
        path = os.path.join(out, case.__name__ + ".pt")
        if case is legacy_args:
            path = os.path.join(out, case.__name__, os.path.basename(src))
            os.makedirs(os.path.dirname(path), exist_ok=True)
        torch.save(ckpt, path)
    print(f"wrote {len(CASES)} checkpoints to {out}")


if __name__ == "__main__":
    main()
