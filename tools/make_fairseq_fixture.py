#!/usr/bin/env python3
"""Writes fairseq-format twins of the tiny MERT fixtures, for the fairseq-mert converter tests.

  tests/fixtures/encoders/<name>/source/fairseq_tiny.pt   name = mert_tiny_postln, mert_tiny_preln

Each file is what fairseq's trainer would save for the committed model in
tests/fixtures/encoders/<name>/ (config.json + model.safetensors, HF Hubert names):
{"args": None, "cfg": {"model": ..., "task": ..., ...}, "model": state_dict, ...}, with cfg made
of plain dicts / lists / scalars only, so torch.load(weights_only=True) reads it. The parameter
names are produced by inverting the name mapping of transformers'
src/transformers/models/hubert/convert_hubert_original_pytorch_checkpoint_to_pytorch.py
(MAPPING and load_conv_layer; MERT's scripts/convert_MERT_HF.py uses the same table), written out
here independently of tools/musefm_convert/fairseq_mert.py so that the converter test compares two
separate derivations. Training-only parameters are added (label_embs_concat, final_proj, the CQT
reconstruction head encoder_cqt_model.fc) to check that the converter drops them.

The pre-LN model also sets attention_relax=32 (as MERT-v1-330M does), which the converter accepts
as plain attention. Output is deterministic (fixed seed, fixed archive name).

Run: .venv/bin/python tools/make_fairseq_fixture.py
"""
import json
import os
import re

import torch
from safetensors.torch import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENCODERS = os.path.join(ROOT, "tests", "fixtures", "encoders")
NAMES = ("mert_tiny_postln", "mert_tiny_preln")
SEED = 4321
N_CODEBOOKS, CODEBOOK_SIZE, FINAL_DIM, CQT_BINS = 2, 8, 16, 12

# HF Hubert name -> fairseq name, the inverse of transformers' MAPPING (fairseq key fragment ->
# HF module path) for a pretrained (not fine-tuned) HubertModel. The conv stack is handled by
# conv_layer_name() (inverse of load_conv_layer).
INVERSE = [
    (r"feature_projection\.projection\.(.+)", r"post_extract_proj.\1"),
    (r"feature_projection\.layer_norm\.(.+)", r"layer_norm.\1"),
    (r"encoder\.pos_conv_embed\.conv\.(.+)", r"encoder.pos_conv.0.\1"),
    (r"encoder\.layers\.(\d+)\.attention\.(q|k|v|out)_proj\.(.+)",
     r"encoder.layers.\1.self_attn.\2_proj.\3"),
    (r"encoder\.layers\.(\d+)\.layer_norm\.(.+)", r"encoder.layers.\1.self_attn_layer_norm.\2"),
    (r"encoder\.layers\.(\d+)\.feed_forward\.intermediate_dense\.(.+)",
     r"encoder.layers.\1.fc1.\2"),
    (r"encoder\.layers\.(\d+)\.feed_forward\.output_dense\.(.+)", r"encoder.layers.\1.fc2.\2"),
    (r"encoder\.layers\.(\d+)\.final_layer_norm\.(.+)", r"encoder.layers.\1.final_layer_norm.\2"),
    (r"encoder\.layer_norm\.(.+)", r"encoder.layer_norm.\1"),
    (r"masked_spec_embed", r"mask_emb"),
]


def conv_layer_name(name, group_norm):
    """feature_extractor.conv_layers.i.{conv,layer_norm}.p -> fairseq's nn.Sequential indices:
    block[0] = Conv1d, block[2] = Fp32GroupNorm, or block[2][1] = Fp32LayerNorm (between two
    TransposeLast) when extractor_mode=layer_norm."""
    m = re.fullmatch(r"feature_extractor\.conv_layers\.(\d+)\.(conv|layer_norm)\.(weight|bias)",
                     name)
    if not m:
        return None
    i, module, p = m.groups()
    if module == "conv":
        return f"feature_extractor.conv_layers.{i}.0.{p}"
    return f"feature_extractor.conv_layers.{i}.2.{p}" if group_norm else \
        f"feature_extractor.conv_layers.{i}.2.1.{p}"


def fairseq_name(name, group_norm):
    # transformers >= 4.4x saves the weight norm as a parametrization: original0 = g, original1 = v
    name = name.replace("parametrizations.weight.original0", "weight_g")
    name = name.replace("parametrizations.weight.original1", "weight_v")
    conv = conv_layer_name(name, group_norm)
    if conv:
        return conv
    for pattern, replacement in INVERSE:
        if re.fullmatch(pattern, name):
            return re.sub(pattern, replacement, name)
    raise SystemExit(f"make_fairseq_fixture: no fairseq name for HF parameter {name}")


def conv_feature_layers(config):
    """fairseq's conv_feature_layers string, run-length grouped like the HuBERT default."""
    layers = list(zip(config["conv_dim"], config["conv_kernel"], config["conv_stride"]))
    parts, i = [], 0
    while i < len(layers):
        j = i
        while j < len(layers) and layers[j] == layers[i]:
            j += 1
        part = "[(%d,%d,%d)]" % layers[i]
        parts.append(part if j - i == 1 else f"{part} * {j - i}")
        i = j
    return " + ".join(parts)


def model_cfg(config):
    stable = config["do_stable_layer_norm"]
    return {
        "_name": "mert",
        "label_rate": 75.0,
        "extractor_mode": "default" if config["feat_extract_norm"] == "group" else "layer_norm",
        "encoder_layers": config["num_hidden_layers"],
        "encoder_embed_dim": config["hidden_size"],
        "encoder_ffn_embed_dim": config["intermediate_size"],
        "encoder_attention_heads": config["num_attention_heads"],
        "activation_fn": "gelu",
        "layer_type": "transformer",
        "dropout": 0.1, "attention_dropout": 0.1, "activation_dropout": 0.0,
        "encoder_layerdrop": 0.05, "dropout_input": 0.1, "dropout_features": 0.1,
        "final_dim": FINAL_DIM,
        "untie_final_proj": True,
        "layer_norm_first": stable,
        "audio_extract_type": "w2v_conv",
        "conv_feature_layers": conv_feature_layers(config),
        "conv_bias": config["conv_bias"],
        "logit_temp": 0.1,
        "target_glu": False,
        "feature_grad_mult": 0.1,
        "conv_pos": config["num_conv_pos_embeddings"],
        "conv_pos_groups": config["num_conv_pos_embedding_groups"],
        "pos_conv_depth": 1,
        "mask_length": 5, "mask_prob": 0.8, "mask_selection": "static",
        "skip_masked": False, "skip_nomask": True,
        "checkpoint_activations": False,
        "required_seq_len_multiple": 2,
        "audio_cqt_loss_m": True, "audio_cqt_bins": CQT_BINS,
        "feature_extractor_cqt": False, "feature_extractor_cqt_bins": 84,
        "mixture_prob": 0.5,
        "learnable_temp": False,
        "deepnorm": False, "subln": False,
        "attention_relax": 32.0 if stable else -1.0,
        "do_cnn_feat_stable_layernorm": False,
        "wav_normalize": False,
    }


def checkpoint(directory):
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    group = config["feat_extract_norm"] == "group"
    hf_state = load_file(os.path.join(directory, "model.safetensors"))
    state = {fairseq_name(k, group): v.clone() for k, v in sorted(hf_state.items())}
    H = config["hidden_size"]
    g = torch.Generator().manual_seed(SEED)
    classes = N_CODEBOOKS * (CODEBOOK_SIZE + 4)  # fairseq Dictionary adds 4 special symbols
    state["label_embs_concat"] = torch.rand(classes, FINAL_DIM, generator=g)
    state["final_proj.weight"] = 0.1 * torch.randn(FINAL_DIM * N_CODEBOOKS, H, generator=g)
    state["final_proj.bias"] = 0.1 * torch.randn(FINAL_DIM * N_CODEBOOKS, generator=g)
    state["encoder_cqt_model.fc.weight"] = 0.1 * torch.randn(CQT_BINS, H, generator=g)
    state["encoder_cqt_model.fc.bias"] = 0.1 * torch.randn(CQT_BINS, generator=g)
    labels = [f"encodec_{i}" for i in range(N_CODEBOOKS)]
    cfg = {
        "_name": None,
        "common": {"fp16": False, "seed": 1},
        "model": model_cfg(config),
        "task": {"_name": "mert_pretraining", "data": "data", "labels": labels,
                 "label_rate": 75.0, "sample_rate": config["sample_rate"], "normalize": False,
                 "max_sample_size": 120000, "min_sample_size": 72000, "random_crop": True},
        "criterion": {"_name": "hubert", "pred_masked_weight": 1.0, "pred_nomask_weight": 0.0,
                      "loss_weights": [10.0, 1.0]},
        "optimization": {"max_update": 400000, "lr": [0.0005], "clip_norm": 10.0},
    }
    return {
        "args": None,
        "cfg": cfg,
        "model": state,
        "criterion": None,
        "optimizer_history": [{"criterion_name": "HubertCriterion",
                               "optimizer_name": "FairseqAdam",
                               "lr_scheduler_state": {"best": None}, "num_updates": 0}],
        "task_state": {},
        "extra_state": {"metrics": {}, "previous_training_time": 0.0},
    }


def main():
    for name in NAMES:
        directory = os.path.join(ENCODERS, name)
        out_dir = os.path.join(directory, "source")
        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, "fairseq_tiny.pt")
        ckpt = checkpoint(directory)
        torch.save(ckpt, path)
        torch.load(path, weights_only=True)  # must stay loadable without pickled classes
        print(f"{os.path.relpath(path, ROOT)}: {len(ckpt['model'])} tensors, "
              f"conv_feature_layers {ckpt['cfg']['model']['conv_feature_layers']!r}")


if __name__ == "__main__":
    main()
