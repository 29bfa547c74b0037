"""What every converter shares: the error exit, the model directory writer, the MERT config
mapping and the musefm-only config fields at their defaults. Imports no other converter module."""
import json
import os
import struct
import sys
from typing import Any, Dict, NoReturn

import torch
from safetensors.torch import save_file

Config = Dict[str, Any]
State = Dict[str, torch.Tensor]

# HF config keys copied verbatim into musefm's EncoderConfig (same names, same meaning).
HF_KEYS = ("conv_dim", "conv_kernel", "conv_stride", "conv_bias", "feat_extract_norm",
           "feat_proj_layer_norm", "num_conv_pos_embeddings", "num_conv_pos_embedding_groups",
           "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
           "layer_norm_eps", "do_stable_layer_norm", "hidden_act")
# musefm-only fields at their defaults (MusicFM and hybrid front-end fields unused by MERT).
MUSEFM_DEFAULTS = dict(attention="fused", n_mels=128, mel_n_fft=2048, mel_hop_length=240,
                       mel_mean=0.0, mel_std=1.0, conv_subsampling_channels=512,
                       conv_depthwise_kernel_size=31, rotary_embedding_base=10000.0,
                       hybrid_features="none", hybrid_fusion="concat")


def fail(message: str) -> NoReturn:
    """Stops the conversion: the message on stderr, exit status 1."""
    sys.exit(f"convert_checkpoint: {message}")


def mert_config(hf: Config) -> Config:
    """Maps a Hugging Face Hubert / MERT config.json to musefm's EncoderConfig (model_type mert)."""
    missing = [k for k in HF_KEYS if k not in hf]
    if missing:
        fail(f"config.json lacks {', '.join(missing)} (not a Hubert/MERT config?)")
    if hf.get("feature_extractor_cqt", False):
        fail("feature_extractor_cqt=true (MERT's CQT input branch) is not supported")
    if hf.get("deepnorm", False):
        fail("deepnorm=true (MERT's HubertEncoder_extend) is not supported")
    if hf.get("hidden_act") not in ("gelu", "swish"):
        fail(f"hidden_act {hf.get('hidden_act')!r} is not supported")
    config = dict(model_type="mert", sample_rate=int(hf.get("sample_rate", 24000)))
    config.update({k: hf[k] for k in HF_KEYS})
    config.update(MUSEFM_DEFAULTS)
    return config


def write_model_dir(out: str, config: Config, state: State, source: str) -> None:
    """Writes OUT/config.json and OUT/model.safetensors (contiguous tensors, source noted)."""
    os.makedirs(out, exist_ok=True)
    state = {k: v.contiguous() for k, v in state.items()}
    path = os.path.join(out, "model.safetensors")
    save_file(state, path, metadata={"format": "pt", "converted_from": os.path.basename(source)})
    sort_safetensors_metadata(path)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")


def sort_safetensors_metadata(path: str) -> None:
    """safetensors writes __metadata__ in hash-map order, which changes from run to run; rewrites
    it sorted (same bytes otherwise) so that a conversion is reproducible byte for byte."""
    with open(path, "r+b") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        if len(header.get("__metadata__") or {}) < 2:
            return
        header = {"__metadata__": dict(sorted(header.pop("__metadata__").items())), **header}
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        if len(text) > n:
            return  # not safetensors' compact layout: leave the file as written
        f.seek(8)
        f.write(text.ljust(n, b" "))
