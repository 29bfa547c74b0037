"""MusicFM checkpoint -> musefm model directory (used by `convert_checkpoint.py musicfm`).

Input: a MusicFM checkpoint as released by minzwon/musicfm (pretrained_msd.pt, pretrained_fma.pt):
`{"state_dict": {"model.<key>": tensor}}`, where <key> is a parameter or buffer name of
`MusicFM25Hz` (model/musicfm_25hz.py), and its stats json (msd_stats.json, fma_stats.json) with
the global log-mel statistics `melspec_2048_mean` / `melspec_2048_std`.

Output: config.json (musefm EncoderConfig, model_type "musicfm") and model.safetensors holding
every tensor of the checkpoint under its upstream name without the "model." prefix, including the
buffers the encoder forward does not read (mel window and filterbank, the BEST-RQ quantizer's
random projection and codebook, the prediction head `linear`, `cls_token`, the never-applied
`conformer.pos_conv_embed`); the C++ loader checks and drops what it does not use.

The architecture is read off the tensor shapes:
  hidden_size                  conformer.layer_norm.weight [H] (also cls_token, conv.linear)
  num_hidden_layers            number of conformer.layers.N
  conv_subsampling_channels    conv.conv.0.conv1.weight [C, 1, 3, 3]
  n_mels                       conv.linear.weight [H, C * n_mels / 4] (also the mel filterbank
                               [n_fft/2+1, n_mels] and the quantizer projection [4 n_mels, dim])
  mel_n_fft                    preprocessor_melspec_2048.mel_stft.spectrogram.window [n_fft]
  intermediate_size            conformer.layers.N.ffn1.intermediate_dense.weight [F, H]
  conv_depthwise_kernel_size   conformer.layers.N.conv_module.depthwise_conv.weight [H, 1, K]
  num_conv_pos_embeddings(_groups)  conformer.pos_conv_embed.conv.weight_v [H, H / groups, K]
  num_attention_heads          conformer.embed_positions.inv_freq [head_dim / 2] when present;
                               otherwise head_dim 64 (the value of the upstream config,
                               facebook/wav2vec2-conformer-rope-large-960h-ft: 1024 / 16 heads),
                               unless `arch` names it. Its values are checked against
                               rotary_embedding_base.
Not in the shapes, so fixed to MusicFM's values unless `arch` overrides them:
  sample_rate 24000, mel_hop_length 240, rotary_embedding_base 10000, layer_norm_eps 1e-5,
  hidden_act swish (ACT2FN["swish"] = SiLU), attention "fused".
Each quantity is taken from the most common value among the tensors that carry it, so that one
mis-shaped tensor is reported as such instead of shifting every other shape.

The positional conv may be stored with either weight-norm spelling (weight_g / weight_v from
torch.nn.utils.weight_norm, as in the released checkpoints, or parametrizations.weight.original0
/ original1 from the newer torch.nn.utils.parametrizations.weight_norm); names are kept as given.

Every problem (missing, unexpected or mis-shaped tensors, missing or invalid statistics) is
collected and reported in one message naming the keys.
"""
import collections
import json
import math
import os
import re
from typing import Optional, Tuple

import torch

from .common import MUSEFM_DEFAULTS, Config, State, fail, write_model_dir

PREFIX = "model."
MEL = "preprocessor_melspec_2048.mel_stft"
QUANT = "quantizer_melspec_2048_0"
POS_CONV = "conformer.pos_conv_embed.conv"
INV_FREQ = "conformer.embed_positions.inv_freq"
STATS_KEYS = ("melspec_2048_mean", "melspec_2048_std")
DEFAULT_HEAD_DIM = 64

# Fields that are not in the shapes: MusicFM's values, overridable through `arch`.
FIXED = dict(sample_rate=24000, mel_hop_length=240, rotary_embedding_base=10000.0,
             layer_norm_eps=1e-5, hidden_act="swish", attention="fused")
OVERRIDABLE = set(FIXED) | {"num_attention_heads"}
# The MERT front-end fields of EncoderConfig, unused by MusicFM: the values of
# configs/musicfm-25hz.json.
MERT_FIELDS = dict(conv_dim=[512] * 7, conv_kernel=[10, 3, 3, 3, 3, 2, 2],
                   conv_stride=[5, 2, 2, 2, 2, 2, 2], conv_bias=False, feat_extract_norm="group",
                   feat_proj_layer_norm=True, do_stable_layer_norm=True)
WEIGHT_NORM_NAMES = {"old": ("weight_g", "weight_v"),
                     "parametrizations": ("parametrizations.weight.original0",
                                          "parametrizations.weight.original1")}


def load_checkpoint(src):
    """Returns ({name without "model.": tensor}, problems)."""
    if not os.path.isfile(src):
        fail(f"{src}: no such file")
    try:
        ckpt = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is reported the same way
        text = str(e)
        if "WeightsUnpickler error:" in text:  # keep the reason, not torch's advice around it
            text = text.split("WeightsUnpickler error:", 1)[1].split("Check the documentation")[0]
        fail(f"{src}: not a checkpoint that torch.load(weights_only=True) accepts: "
             f"{' '.join(text.split())}")
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        keys = sorted(ckpt)[:8] if isinstance(ckpt, dict) else type(ckpt).__name__
        fail(f"{src}: not a MusicFM checkpoint (expected {{'state_dict': {{'model.<key>': "
             f"tensor}}}}, got {keys})")
    state, problems = {}, []
    for key, value in ckpt["state_dict"].items():
        if not key.startswith(PREFIX):
            problems.append(f"unexpected: {key} (no '{PREFIX}' prefix)")
        elif not isinstance(value, torch.Tensor):
            problems.append(f"unexpected: {key[len(PREFIX):]} is a {type(value).__name__}, "
                            "not a tensor")
        else:
            state[key[len(PREFIX):]] = value
    return state, problems


def load_stats(path):
    """Returns ((mean, std), problems) from a MusicFM stats json."""
    if not os.path.isfile(path):
        fail(f"{path}: no such file")
    try:
        with open(path) as f:
            stats = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: not a readable JSON file: {e}")
    if not isinstance(stats, dict):
        fail(f"{path}: expected a JSON object with {' and '.join(STATS_KEYS)}")
    values, problems = [], []
    for key in STATS_KEYS:
        v = stats.get(key)
        if key not in stats:
            problems.append(f"stats: {path} lacks {key}")
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            problems.append(f"stats: {key} = {v!r} in {path} is not a finite number")
        elif key.endswith("_std") and v <= 0:
            problems.append(f"stats: {key} = {v!r} in {path} must be positive")
        else:
            values.append(float(v))
    return (tuple(values) if not problems else None), problems


def _vote(shapes, candidates):
    """Most common value of fn(shape) over the candidate (name, fn) pairs whose tensor exists
    (ties: the first candidate's); None when no candidate yields a value."""
    values = []
    for name, fn in candidates:
        shape = shapes.get(name)
        if shape is None:
            continue
        try:
            v = fn(shape)
        except (IndexError, ZeroDivisionError):
            continue
        if v is not None:
            values.append(v)
    if not values:
        return None
    counts = collections.Counter(values)
    best = max(counts.values())
    return next(v for v in values if counts[v] == best)


def _dim(i, scale=1, div=1):
    """shape -> shape[i] * scale / div when exact and positive, else None."""
    def fn(shape):
        v = shape[i] * scale
        return v // div if v % div == 0 and v > 0 else None
    return fn


def infer_arch(shapes, overrides=None):
    """Architecture from {name: shape}. Returns (arch, problems); arch is None when a quantity
    cannot be read from any tensor."""
    overrides = dict(overrides or {})
    bad = sorted(set(overrides) - OVERRIDABLE)
    if bad:
        fail(f"arch override {', '.join(bad)} is read from the checkpoint; only "
             f"{', '.join(sorted(OVERRIDABLE))} may be given")
    layer_ids = {int(m.group(1)) for m in map(re.compile(r"conformer\.layers\.(\d+)\.").match,
                                             shapes) if m}
    layers = sorted(layer_ids)
    lp = [f"conformer.layers.{n}" for n in layers]
    blocks = [f"conv.conv.{b}" for b in (0, 1)]
    arch = dict(FIXED)
    arch.update(
        hidden_size=_vote(shapes, [("conformer.layer_norm.weight", _dim(0)),
                                   ("conformer.layer_norm.bias", _dim(0)),
                                   ("cls_token", _dim(0)), ("conv.linear.weight", _dim(0)),
                                   ("conv.linear.bias", _dim(0)), ("linear.weight", _dim(1))]
                          + [(p + ".final_layer_norm.weight", _dim(0)) for p in lp]),
        num_hidden_layers=(layers[-1] + 1) if layers else None,
        conv_subsampling_channels=_vote(
            shapes, [(f"{p}.{c}.weight", _dim(0)) for p in blocks for c in ("conv1", "conv2",
                                                                              "conv3")]),
        intermediate_size=_vote(shapes, [(f"{p}.{f}.intermediate_dense.weight", _dim(0))
                                         for p in lp for f in ("ffn1", "ffn2")]),
        conv_depthwise_kernel_size=_vote(shapes, [(p + ".conv_module.depthwise_conv.weight",
                                                   _dim(2)) for p in lp]),
        mel_n_fft=_vote(shapes, [(MEL + ".spectrogram.window", _dim(0)),
                                 (MEL + ".mel_scale.fb", lambda s: 2 * (s[0] - 1) or None)]),
        codebook_size=_vote(shapes, [(QUANT + ".codebook", _dim(0)), ("linear.weight", _dim(0)),
                                     ("linear.bias", _dim(0))]),
        codebook_dim=_vote(shapes, [(QUANT + ".codebook", _dim(1)),
                                    (QUANT + ".random_projection", _dim(1))]),
    )
    c = arch["conv_subsampling_channels"]
    arch["n_mels"] = _vote(shapes, [("conv.linear.weight", _dim(1, 4, c or 1)),
                                    (MEL + ".mel_scale.fb", _dim(1)),
                                    (QUANT + ".random_projection", _dim(0, 1, 4))])
    spelling = "parametrizations" if any(k.startswith(POS_CONV + ".parametrizations.")
                                         for k in shapes) else "old"
    g_name, v_name = (f"{POS_CONV}.{n}" for n in WEIGHT_NORM_NAMES[spelling])
    arch["weight_norm"] = spelling
    arch["num_conv_pos_embeddings"] = _vote(shapes, [(v_name, _dim(2)), (g_name, _dim(2))]) or 128
    h = arch["hidden_size"]
    arch["num_conv_pos_embedding_groups"] = _vote(
        shapes, [(v_name, lambda s: h // s[1] if h and h % s[1] == 0 else None)]) or 16
    arch.update({k: v for k, v in overrides.items() if k in FIXED})

    problems = [f"cannot infer {k}: none of the tensors that carry it is present or well-shaped"
                for k, v in arch.items() if v is None]
    if problems:
        return None, problems
    if layers != list(range(len(layers))):
        gaps = sorted(set(range(layers[-1] + 1)) - layer_ids)
        problems += [f"missing: conformer.layers.{n}.* (every tensor of layer {n})" for n in gaps]

    # Heads: the rotary table holds head_dim / 2 frequencies.
    inv = shapes.get(INV_FREQ)
    from_inv = h // (2 * inv[0]) if inv is not None and len(inv) == 1 and inv[0] > 0 and \
        h % (2 * inv[0]) == 0 else None
    heads = overrides.get("num_attention_heads", from_inv)
    if heads is None:
        if h % DEFAULT_HEAD_DIM:
            problems.append(f"cannot infer num_attention_heads: {INV_FREQ} is absent and "
                            f"hidden_size {h} is not a multiple of the default head size "
                            f"{DEFAULT_HEAD_DIM}; pass arch={{'num_attention_heads': N}}")
            return None, problems
        heads = h // DEFAULT_HEAD_DIM
    if not isinstance(heads, int) or heads <= 0 or h % heads:
        problems.append(f"num_attention_heads {heads!r} does not divide hidden_size {h}")
        return None, problems
    arch["num_attention_heads"] = heads
    return arch, problems


def expected_shapes(arch):
    """{name: shape} of every tensor of a MusicFM25Hz state dict with this architecture, and the
    set of names that may be absent."""
    H, F, C = arch["hidden_size"], arch["intermediate_size"], arch["conv_subsampling_channels"]
    M, N, K = arch["n_mels"], arch["mel_n_fft"], arch["conv_depthwise_kernel_size"]
    V, D = arch["codebook_size"], arch["codebook_dim"]
    P, G = arch["num_conv_pos_embeddings"], arch["num_conv_pos_embedding_groups"]
    s, optional = {}, set()

    def bn(p, n):
        for t in ("weight", "bias", "running_mean", "running_var"):
            s[f"{p}.{t}"] = (n,)
        s[p + ".num_batches_tracked"] = ()
        optional.add(p + ".num_batches_tracked")

    def dense(p, n_out, n_in):
        s[p + ".weight"], s[p + ".bias"] = (n_out, n_in), (n_out,)

    s[MEL + ".spectrogram.window"] = (N,)
    s[MEL + ".mel_scale.fb"] = (N // 2 + 1, M)
    s[QUANT + ".random_projection"] = (4 * M, D)
    s[QUANT + ".codebook"] = (V, D)
    for b in (0, 1):
        p, cin = f"conv.conv.{b}", 1 if b == 0 else C
        for conv, ci in (("conv1", cin), ("conv2", C), ("conv3", cin)):
            s[f"{p}.{conv}.weight"], s[f"{p}.{conv}.bias"] = (C, ci, 3, 3), (C,)
        for norm in ("bn1", "bn2", "bn3"):
            bn(f"{p}.{norm}", C)
    dense("conv.linear", H, C * M // 4)
    s[INV_FREQ] = (H // arch["num_attention_heads"] // 2,)
    optional.add(INV_FREQ)
    g, v = WEIGHT_NORM_NAMES[arch["weight_norm"]]
    s[POS_CONV + ".bias"], s[f"{POS_CONV}.{g}"], s[f"{POS_CONV}.{v}"] = (H,), (1, 1, P), \
        (H, H // G, P)
    s["conformer.layer_norm.weight"] = s["conformer.layer_norm.bias"] = (H,)
    for n in range(arch["num_hidden_layers"]):
        p = f"conformer.layers.{n}"
        for norm in ("ffn1_layer_norm", "self_attn_layer_norm", "conv_module.layer_norm",
                     "ffn2_layer_norm", "final_layer_norm"):
            s[f"{p}.{norm}.weight"] = s[f"{p}.{norm}.bias"] = (H,)
        for ffn in ("ffn1", "ffn2"):
            dense(f"{p}.{ffn}.intermediate_dense", F, H)
            dense(f"{p}.{ffn}.output_dense", H, F)
        for proj in ("linear_q", "linear_k", "linear_v", "linear_out"):
            dense(f"{p}.self_attn.{proj}", H, H)
        s[p + ".conv_module.pointwise_conv1.weight"] = (2 * H, H, 1)
        s[p + ".conv_module.depthwise_conv.weight"] = (H, 1, K)
        bn(p + ".conv_module.batch_norm", H)
        s[p + ".conv_module.pointwise_conv2.weight"] = (H, H, 1)
    dense("linear", V, H)
    s["cls_token"] = (H,)
    return s, optional


def check_tensors(state, arch):
    """Missing / unexpected / mis-shaped tensors and rotary frequencies that do not match."""
    expected, optional = expected_shapes(arch)
    fmt = lambda shape: "[" + ", ".join(map(str, shape)) + "]"  # noqa: E731
    problems = []
    for name, shape in expected.items():
        if name not in state:
            if name not in optional:
                problems.append(f"missing: {name} {fmt(shape)}")
        elif tuple(state[name].shape) != tuple(shape):
            problems.append(f"mis-shaped: {name}: expected {fmt(shape)}, got "
                            f"{fmt(state[name].shape)}")
    problems += [f"unexpected: {name} {fmt(state[name].shape)}" for name in state
                 if name not in expected]
    inv = state.get(INV_FREQ)
    if inv is not None and tuple(inv.shape) == expected[INV_FREQ]:
        d = arch["hidden_size"] // arch["num_attention_heads"]
        base = float(arch["rotary_embedding_base"])
        ref = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
        if not torch.allclose(inv.float(), ref, rtol=1e-5, atol=0):
            problems.append(f"mis-valued: {INV_FREQ} is not 1 / {base:g}^(2i / {d}) "
                            "(set rotary_embedding_base / num_attention_heads in arch)")
    return problems


def musicfm_config(arch, mean, std):
    """The EncoderConfig dict (exactly the keys of configs/musicfm-25hz.json)."""
    config = dict(model_type="musicfm")
    config.update(MUSEFM_DEFAULTS)
    config.update(MERT_FIELDS)
    for key in ("sample_rate", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "layer_norm_eps", "hidden_act", "attention", "n_mels",
                "mel_n_fft", "mel_hop_length", "conv_subsampling_channels",
                "conv_depthwise_kernel_size", "num_conv_pos_embeddings",
                "num_conv_pos_embedding_groups"):
        config[key] = arch[key]
    config["rotary_embedding_base"] = float(arch["rotary_embedding_base"])
    config["layer_norm_eps"] = float(arch["layer_norm_eps"])
    config["mel_mean"], config["mel_std"] = mean, std
    return config


def convert_musicfm(src_pt: str, stats_json: str, out: str,
                    arch: Optional[Config] = None) -> Tuple[Config, State]:
    """Converts a MusicFM checkpoint + stats json into OUT/{config.json, model.safetensors}.
    `arch` optionally overrides what the shapes do not determine (num_attention_heads,
    rotary_embedding_base, layer_norm_eps, mel_hop_length, sample_rate, attention, hidden_act).
    Returns (config, state)."""
    state, problems = load_checkpoint(src_pt)
    stats, stat_problems = load_stats(stats_json)
    inferred, arch_problems = infer_arch({k: tuple(v.shape) for k, v in state.items()}, arch)
    problems += arch_problems
    if inferred is not None:
        problems += check_tensors(state, inferred)
    problems += stat_problems
    if problems:
        fail(f"{src_pt}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    config = musicfm_config(inferred, *stats)
    write_model_dir(out, config, state, src_pt)
    return config, state
