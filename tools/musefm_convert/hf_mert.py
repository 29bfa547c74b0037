"""Hugging Face MERT / Hubert directory -> musefm model directory (`convert_checkpoint.py hf-mert`).

Input: a directory with config.json and model.safetensors or pytorch_model.bin, e.g. a local copy
of m-a-p/MERT-v1-95M or -330M. The config is mapped by common.mert_config; parameter names are
kept (musefm reads HF names), without a wrapper's prefix ("hubert." of HubertForCTC, "model.").
"""
import json
import os
from typing import Tuple

import torch
from safetensors.torch import load_file

from .common import Config, State, fail, mert_config, write_model_dir

# Prefixes under which wrappers store the encoder (e.g. HubertForCTC keeps it in "hubert.").
PREFIXES = ("hubert.", "model.")


def load_state(src: str) -> State:
    st = os.path.join(src, "model.safetensors")
    if os.path.exists(st):
        state = load_file(st)
    else:
        bin_path = os.path.join(src, "pytorch_model.bin")
        if not os.path.exists(bin_path):
            fail(f"{src} has neither model.safetensors nor pytorch_model.bin")
        state = torch.load(bin_path, map_location="cpu", weights_only=True)
    for prefix in PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return {k: v.contiguous() for k, v in state.items()}


def convert_hf_mert(src: str, out: str) -> Tuple[Config, State]:
    with open(os.path.join(src, "config.json")) as f:
        config = mert_config(json.load(f))
    state = load_state(src)
    write_model_dir(out, config, state, src)
    return config, state
