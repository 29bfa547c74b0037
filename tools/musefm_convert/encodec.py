"""EnCodec checkpoint -> musefm model directory (used by `convert_checkpoint.py encodec`).

Input: a state dict of facebookresearch/encodec's `EncodecModel`, as released
(`encodec_24khz-d7cc33bc.th`, a plain {name: tensor} dict) or as written by
`torch.save(EncodecModel.encodec_model_24khz().state_dict(), path)`; a {"state_dict": ...}
wrapper is accepted too.

Output: config.json (musefm EncodecConfig, include/musefm/codec.h) and model.safetensors holding
every tensor of the checkpoint under its upstream name: `encoder.*` (weight-normed SConv1d
layers as `weight_g` / `weight_v` or `parametrizations.weight.original0/1`, the SLSTM's
`lstm.{weight,bias}_{ih,hh}_l<n>`), `quantizer.vq.layers.<q>._codebook.{inited, cluster_size,
embed, embed_avg}` and `decoder.*`. musefm's EncodecTeacher reads the encoder and the codebooks,
and accepts and skips the rest. `--encoder-only` leaves out `decoder.*` and the training-only
codebook buffers (`cluster_size`, `embed_avg`), which halves the file.

Architecture: the fields of the released 24 kHz model (encodec `EncodecModel._get_model` with
`SEANetEncoder` defaults, causal, weight norm, bins 1024, target bandwidths 1.5-24 kbps), except
  n_filters     encoder.model.0.conv.conv.weight_v [n_filters, channels, kernel_size]
  dimension     the last encoder conv's output channels
  lstm_layers   number of encoder.model.<i>.lstm.weight_ih_l<n>
  n_q, bins     number of quantizer.vq.layers.<q>, and their _codebook.embed [bins, dimension]
which are read off the tensors, and `--arch FILE.json` overrides any field by name (e.g.
ratios or n_residual_layers of a non-standard model). Every expected encoder and quantizer
tensor is then checked by name and shape; all problems are reported together.
"""
import json
import math
import os
import re
from typing import Optional, Tuple

import torch

from .common import Config, State, fail, write_model_dir

# encodec 0.1.1 EncodecModel.encodec_model_24khz() (shared reference models.md section 4).
ENCODEC_24KHZ = dict(
    model_type="encodec", sample_rate=24000, channels=1, n_filters=32, ratios=[8, 5, 4, 2],
    dimension=128, n_residual_layers=1, lstm_layers=2, kernel_size=7, last_kernel_size=7,
    residual_kernel_size=3, dilation_base=2, compress=2, causal=True, pad_mode="reflect",
    true_skip=False, n_q=32, bins=1024, target_bandwidths=[1.5, 3.0, 6.0, 12.0, 24.0])
WEIGHT_NORM = (("weight_g", "weight_v"),
               ("parametrizations.weight.original0", "parametrizations.weight.original1"))
CODEBOOK_TRAINING = ("inited", "cluster_size", "embed_avg")


def load_state(src):
    if not os.path.isfile(src):
        fail(f"{src}: no such file")
    try:
        state = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is reported the same way
        fail(f"{src}: not a checkpoint that torch.load(weights_only=True) accepts: {e}")
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        fail(f"{src}: not an EnCodec state dict ({{name: tensor}})")
    return state


def infer_arch(state, overrides):
    arch = dict(ENCODEC_24KHZ)
    unknown = sorted(set(overrides) - set(arch))
    if unknown:
        fail(f"--arch: unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(arch))})")
    first = _conv_shape(state, "encoder.model.0.conv.conv")
    if first is not None:
        arch["n_filters"] = first[0]
    lstm = {int(m.group(1)) for m in map(re.compile(r"encoder\.model\.\d+\.lstm\.weight_ih_l(\d+)$")
                                        .match, state) if m}
    arch["lstm_layers"] = len(lstm)
    layers = {int(m.group(1)) for m in map(re.compile(r"quantizer\.vq\.layers\.(\d+)\.").match,
                                          state) if m}
    if layers:
        arch["n_q"] = max(layers) + 1
        embed = state.get("quantizer.vq.layers.0._codebook.embed")
        if embed is not None and embed.dim() == 2:
            arch["bins"], arch["dimension"] = embed.shape
    arch.update(overrides)
    return arch


def _conv_shape(state, prefix):
    for names in (("weight",),) + WEIGHT_NORM:
        if prefix + "." + names[-1] in state:
            return list(state[prefix + "." + names[-1]].shape)
    return None


def expected_shapes(a):
    """{conv prefix: [out, in, kernel]} and {tensor name: shape} of the encoder and quantizer:
    the layout of encodec's SEANetEncoder (modules/seanet.py) and ResidualVectorQuantizer."""
    convs, tensors = {}, {}
    index, mult, nf = 0, 1, a["n_filters"]

    def conv(name, cin, cout, k):
        convs[f"encoder.model.{name}.conv.conv"] = [cout, cin, k]

    conv(index, a["channels"], nf, a["kernel_size"])
    for ratio in reversed(a["ratios"]):
        dim = mult * nf
        for j in range(a["n_residual_layers"]):
            index += 1
            hidden = dim // a["compress"]
            conv(f"{index}.block.1", dim, hidden, a["residual_kernel_size"])
            conv(f"{index}.block.3", hidden, dim, 1)
            if not a["true_skip"]:
                conv(f"{index}.shortcut", dim, dim, 1)
        index += 2  # ELU, downsampling conv
        conv(index, dim, 2 * dim, 2 * ratio)
        mult *= 2
    dim = mult * nf
    if a["lstm_layers"]:
        index += 1
        for n in range(a["lstm_layers"]):
            for kind in ("ih", "hh"):
                tensors[f"encoder.model.{index}.lstm.weight_{kind}_l{n}"] = [4 * dim, dim]
                tensors[f"encoder.model.{index}.lstm.bias_{kind}_l{n}"] = [4 * dim]
    index += 2  # ELU, last conv
    conv(index, dim, a["dimension"], a["last_kernel_size"])
    for q in range(a["n_q"]):
        tensors[f"quantizer.vq.layers.{q}._codebook.embed"] = [a["bins"], a["dimension"]]
    return convs, tensors


def check_state(state, arch):
    """Problems (missing, unexpected, mis-shaped) of the encoder / quantizer tensors."""
    convs, tensors = expected_shapes(arch)
    for prefix, (cout, cin, k) in convs.items():
        names = next((n for n in WEIGHT_NORM if f"{prefix}.{n[0]}" in state), ("weight",))
        if len(names) == 2:
            tensors[f"{prefix}.{names[0]}"] = [cout, 1, 1]
        tensors[f"{prefix}.{names[-1]}"] = [cout, cin, k]
        tensors[f"{prefix}.bias"] = [cout]
    optional = {f"quantizer.vq.layers.{q}._codebook.{b}": s for q in range(arch["n_q"])
                for b, s in (("inited", [1]), ("cluster_size", [arch["bins"]]),
                             ("embed_avg", [arch["bins"], arch["dimension"]]))}
    missing, wrong, unexpected = [], [], []
    for name, shape in tensors.items():
        if name not in state:
            missing.append(name)
        elif list(state[name].shape) != shape:
            wrong.append(f"{name} {list(state[name].shape)} (expected {shape})")
    for name, t in state.items():
        if name in tensors or name.startswith("decoder."):
            continue
        if name in optional:
            if list(t.shape) != optional[name]:
                wrong.append(f"{name} {list(t.shape)} (expected {optional[name]})")
        else:
            unexpected.append(name)
    problems = []
    for what, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
        if names:
            more = f", ... and {len(names) - 8} more" if len(names) > 8 else ""
            problems.append(f"{what}: {', '.join(names[:8])}{more}")
    return problems


def convert_encodec(src: str, out: str, arch_path: Optional[str] = None,
                    encoder_only: bool = False) -> Tuple[Config, State]:
    state = load_state(src)
    overrides = {}
    if arch_path:
        with open(arch_path) as f:
            overrides = json.load(f)
    arch = infer_arch(state, overrides)
    if arch["bins"] < 2 or 2 ** int(math.log2(arch["bins"])) != arch["bins"]:
        fail(f"{src}: codebook size {arch['bins']} is not a power of 2")
    problems = check_state(state, arch)
    if problems:
        fail(f"{src}: tensors do not match the EnCodec architecture:\n  " + "\n  ".join(problems))
    if encoder_only:
        state = {k: v for k, v in state.items() if not k.startswith("decoder.")
                 and not k.endswith(tuple("._codebook." + b for b in CODEBOOK_TRAINING[1:]))}
    write_model_dir(out, arch, {k: v.float() if v.is_floating_point() else v
                                for k, v in state.items()}, src)
    return arch, state
