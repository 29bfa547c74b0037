#!/usr/bin/env python3
"""Writes parity fixtures for the C++ MERT-v1 encoder: two tiny HuBERT models with random weights,
one per LayerNorm variant, and their outputs on a two-clip batch of real music.

The reference is transformers' `HubertModel` (HF MERT's remote code subclasses it and reuses its
feature encoder, positional conv and encoder blocks), run in fp32, eval mode, eager attention.

  tests/fixtures/encoders/<name>/        name = mert_tiny_postln (do_stable_layer_norm=False)
                                                mert_tiny_preln  (do_stable_layer_norm=True)
    config.json, model.safetensors   save_pretrained() output converted by
                               tools/convert_checkpoint.py hf-mert (HF key names kept)
    input.npy                  f32 [2, 8000]: samples 0..8000 and 8000..16000 of real_24k.wav
    extract_features.npy       f32 [2, T, 32]: feature_extractor(input), transposed to [B, T, C]
    hidden_states.npy          f32 [L+1, 2, T, 64]: stack of model(input, output_hidden_states=True)
                               .hidden_states (no attention mask)
    last_hidden_state.npy      f32 [2, T, 64]: model(input).last_hidden_state (for pre-LN models the
                               final encoder.layer_norm is applied here but not to hidden_states[-1])
  tests/fixtures/encoders/versions.json  torch / transformers / safetensors versions (merged:
                               make_musicfm_fixtures.py adds torchaudio)

Run: .venv/bin/python tools/make_encoder_fixtures.py
"""
import json
import os
import sys
import tempfile

import numpy as np
import safetensors
import soundfile as sf
import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from musefm_convert.hf_mert import convert_hf_mert  # noqa: E402
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(FIXTURES, "encoders")
SEED = 1234

ARCH = dict(
    conv_dim=[32] * 7,
    conv_kernel=[10, 3, 3, 3, 3, 2, 2],
    conv_stride=[5, 2, 2, 2, 2, 2, 2],
    conv_bias=False,
    feat_extract_norm="group",
    feat_proj_layer_norm=True,
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=4,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    layer_norm_eps=1e-5,
    hidden_act="gelu",
)
NO_TRAINING = dict(
    hidden_dropout=0.0, activation_dropout=0.0, attention_dropout=0.0, feat_proj_dropout=0.0,
    final_dropout=0.0, layerdrop=0.0, apply_spec_augment=False,
)


def build(stable):
    torch.manual_seed(SEED)
    config = transformers.HubertConfig(**ARCH, **NO_TRAINING, do_stable_layer_norm=stable,
                                       attn_implementation="eager")
    model = transformers.HubertModel(config).eval()
    # The library must not have swapped the norms the C++ port implements.
    assert isinstance(model.feature_extractor.conv_layers[0].layer_norm, nn.GroupNorm)
    assert not hasattr(model.feature_extractor.conv_layers[1], "layer_norm")
    assert isinstance(model.feature_projection.layer_norm, nn.LayerNorm)
    expected = "HubertEncoderStableLayerNorm" if stable else "HubertEncoder"
    assert type(model.encoder).__name__ == expected, type(model.encoder).__name__
    randomise(model)
    return model


@torch.no_grad()
def randomise(model):
    """Replaces every parameter (incl. both weight-norm tensors) so that no norm is an identity."""
    g = torch.Generator().manual_seed(SEED)
    for module in model.modules():
        is_norm = isinstance(module, (nn.LayerNorm, nn.GroupNorm))
        for name, p in module.named_parameters(recurse=False):
            noise = torch.randn(p.shape, generator=g)
            if name == "bias":
                p.copy_(0.1 * noise)
            elif is_norm:
                p.copy_(1 + 0.1 * noise)
            elif name in ("original0", "weight_g"):  # weight-norm magnitude per kernel tap: unit
                p.copy_(noise)                          # scale, so the positional conv matters
            else:
                p.copy_(0.2 * noise)


def load_input():
    audio, sr = sf.read(os.path.join(FIXTURES, "real_24k.wav"), dtype="float32")
    assert sr == 24000 and audio.ndim == 1, (sr, audio.shape)
    return torch.from_numpy(np.stack([audio[:8000], audio[8000:16000]]))


def save_npy(directory, name, t):
    np.save(os.path.join(directory, name), np.ascontiguousarray(t.numpy(), dtype=np.float32))


def write_model(name, stable, x):
    model = build(stable)
    directory = os.path.join(OUT, name)
    # The model directory is made the way users make theirs: save_pretrained + the converter.
    with tempfile.TemporaryDirectory() as hf_dir:
        model.save_pretrained(hf_dir)
        convert_hf_mert(hf_dir, directory)
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    config["attention"] = "naive"  # the eager reference
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with torch.no_grad():
        out = model(x, output_hidden_states=True)
        features = model.feature_extractor(x).transpose(1, 2)
    hidden = torch.stack(out.hidden_states)
    save_npy(directory, "input.npy", x)
    save_npy(directory, "extract_features.npy", features)
    save_npy(directory, "hidden_states.npy", hidden)
    save_npy(directory, "last_hidden_state.npy", out.last_hidden_state)
    print(f"{name}: hidden_states {tuple(hidden.shape)}, extract_features {tuple(features.shape)}, "
          f"max|last hidden state| {out.last_hidden_state.abs().max():.4f}")


def main():
    x = load_input()
    write_model("mert_tiny_postln", False, x)
    write_model("mert_tiny_preln", True, x)
    path = os.path.join(OUT, "versions.json")
    versions = {}
    if os.path.exists(path):  # keep what other generators add (make_musicfm_fixtures.py)
        with open(path) as f:
            versions = json.load(f)
    versions.update({"torch": torch.__version__, "transformers": transformers.__version__,
                     "safetensors": safetensors.__version__})
    with open(path, "w") as f:
        json.dump(versions, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
