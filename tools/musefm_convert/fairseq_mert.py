"""fairseq MERT / HuBERT pretraining checkpoint -> musefm model directory.

Used by `tools/convert_checkpoint.py fairseq-mert SRC.pt OUT`. The checkpoint is the dict that
fairseq's trainer saves: {"cfg": {"model": {...}, "task": {...}, ...}, "model": state_dict, ...}
(or, from older fairseq, {"args": argparse.Namespace, "model": ...}). The architecture is read from
cfg["model"] (fields of fairseq's HubertConfig / MERT's MERTConfig) and cfg["task"]["sample_rate"];
parameters are renamed to the Hugging Face Hubert names that musefm reads, i.e. the names that
transformers' convert_hubert_original_pytorch_checkpoint_to_pytorch.py and MERT's
scripts/convert_MERT_HF.py produce, so the output equals `convert_checkpoint.py hf-mert` run on
the HF conversion of the same checkpoint.

Loading is safe by default (torch.load weights_only=True; argparse.Namespace and numpy scalars,
which older fairseq files hold, are allowed as plain data). Files that pickle other classes
(e.g. an omegaconf DictConfig) are refused with a list of those classes; set
MUSEFM_TRUST_PICKLE=1 to load a file you trust with weights_only=False.
"""
import argparse
import ast
import importlib
import os
import pickle
import re
import warnings
from typing import Tuple

import torch

from .common import Config, State, fail, mert_config, write_model_dir

TRUST_ENV = "MUSEFM_TRUST_PICKLE"

# Pickled globals that carry plain data only (older fairseq: "args" Namespace, numpy scalars in
# the training metrics); they are allowed under weights_only=True.
DATA_GLOBALS = re.compile(r"argparse\.Namespace|numpy\.(_core|core)\.multiarray\.scalar|"
                          r"numpy\.dtype|numpy\.dtypes\.\w+DType")

# cfg["model"] fields that define the inference graph (all present in checkpoints that fairseq
# writes, which store every dataclass field).
REQUIRED = ("encoder_layers", "encoder_embed_dim", "encoder_ffn_embed_dim",
            "encoder_attention_heads", "activation_fn", "layer_norm_first", "extractor_mode",
            "conv_feature_layers", "conv_bias", "conv_pos", "conv_pos_groups")

# Options that change inference and that musefm does not implement: field -> (the value musefm
# implements, which is also the default when the field is absent; what the option does).
UNSUPPORTED = {
    "feature_extractor_cqt": (False, "MERT's CQT input branch (CQT bins concatenated to the "
                                     "conv features)"),
    "deepnorm": (False, "MERT's DeepNorm residual scaling"),
    "subln": (False, "MERT's Sub-LN (an extra LayerNorm inside each FFN)"),
    "do_cnn_feat_stable_layernorm": (False, "MERT's non-affine LayerNorms around the feature "
                                            "projection"),
    "wav_normalize": (False, "MERT's LayerNorm over the waveform before the conv stack"),
    "audio_extract_type": ("w2v_conv", "MERT's alternative front end"),
    "layer_type": ("transformer", "conformer / adapter encoder layers"),
    "pos_conv_depth": (1, "a multi-layer positional convolution"),
    "conv_pos_batch_norm": (False, "a BatchNorm positional convolution"),
}

# Training-only parameters (targets, prediction heads, learned temperatures), dropped.
TRAINING_ONLY = re.compile(r"label_embs_concat|final_proj\.|final_projs\.|target_glu\.|"
                           r"logit_temp_list|encoder_cqt_model\.|encoder_mel_model\.")

MODEL_NAMES = (None, "hubert", "mert")


# ----------------------------------------------------------------------------------- loading

def _resolve(name):
    module, _, attr = name.rpartition(".")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy.core is a deprecated alias of numpy._core
        return getattr(importlib.import_module(module), attr)


def _unsafe_globals(src, error):
    try:
        return list(torch.serialization.get_unsafe_globals_in_checkpoint(src))
    except Exception:  # legacy (non-zip) files: take the one global the error names
        m = re.search(r"GLOBAL (\S+) was not an allowed global", str(error))
        return [m.group(1)] if m else ["(unknown)"]


def _reason(error):
    """The line of a torch.load error that names the refused global."""
    lines = [l.strip() for l in str(error).splitlines() if l.strip()]
    for i, line in enumerate(lines):
        if "WeightsUnpickler error" in line:
            rest = line.split("WeightsUnpickler error:", 1)[1].strip()
            return rest or (lines[i + 1] if i + 1 < len(lines) else line)
    return lines[-1] if lines else type(error).__name__


def load_checkpoint(src):
    if not os.path.isfile(src):
        fail(f"{src}: no such file (expected a fairseq .pt checkpoint)")
    if os.environ.get(TRUST_ENV) == "1":
        try:
            return torch.load(src, map_location="cpu", weights_only=False)
        except ModuleNotFoundError as e:
            fail(f"{src}: unpickling needs the Python module '{e.name}'; install it into the "
                 f"venv (e.g. .venv/bin/pip install omegaconf for omegaconf.*) and retry")
        except Exception as e:
            fail(f"{src}: cannot read the checkpoint: {e}")
    try:
        return torch.load(src, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        error = e
    except Exception as e:
        fail(f"{src}: cannot read the checkpoint: {e}")
    if "GLOBAL" not in str(error):  # not a refused class: the file is no torch pickle at all
        fail(f"{src}: cannot read the checkpoint (not a torch.save file?): {_reason(error)}")
    unsafe = _unsafe_globals(src, error)
    others = [g for g in unsafe if not DATA_GLOBALS.fullmatch(g)]
    if not others:
        allowed = [(_resolve(g), g) for g in unsafe]
        if "numpy.dtype" in unsafe:  # dtype instances are rebuilt as numpy.dtypes.*DType objects
            import numpy.dtypes
            allowed += [c for n, c in vars(numpy.dtypes).items()
                        if n.endswith("DType") and isinstance(c, type)]
        try:
            with torch.serialization.safe_globals(allowed):
                return torch.load(src, map_location="cpu", weights_only=True)
        except Exception as e:
            error = e
            others = unsafe
    fail(f"{src}: torch.load(weights_only=True) refused the pickled classes {', '.join(others)}.\n"
         f"  fairseq's trainer stores cfg as plain dicts; these classes mean the file also holds "
         f"Python objects (omegaconf.* = a DictConfig saved as such, fairseq.* = training state).\n"
         f"  If you trust the file, rerun with {TRUST_ENV}=1 to load it with weights_only=False "
         f"(this executes the pickle), with the named modules installed in the venv "
         f"(.venv/bin/pip install omegaconf for omegaconf.*).\n  (torch: {_reason(error)})")


def _plain(value, what):
    """dict view of a cfg section: plain dict, omegaconf DictConfig, or argparse.Namespace."""
    if value is None:
        return None
    if type(value).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf  # only reachable with MUSEFM_TRUST_PICKLE=1
        return OmegaConf.to_container(value, resolve=True, enum_to_str=True)
    if isinstance(value, argparse.Namespace):
        return vars(value)
    if isinstance(value, dict):
        return value
    fail(f"{what} is a {type(value).__name__}, expected a dict")


def checkpoint_sections(ckpt, src):
    """Returns (model cfg, task cfg, state_dict)."""
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict):
        fail(f"{src}: not a fairseq checkpoint (no 'model' state dict); HF directories use "
             f"hf-mert, MusicFM files use musicfm")
    cfg = _plain(ckpt.get("cfg"), f"{src}: cfg")
    if cfg is not None:
        model = _plain(cfg.get("model"), f"{src}: cfg['model']")
        task = _plain(cfg.get("task"), f"{src}: cfg['task']")
        if model is None or task is None:
            fail(f"{src}: cfg lacks the 'model' or 'task' section")
    elif ckpt.get("args") is not None:  # pre-hydra fairseq: one flat Namespace
        model = task = dict(_plain(ckpt["args"], f"{src}: args"))
        model.setdefault("_name", model.get("arch"))
    else:
        fail(f"{src}: the checkpoint has neither 'cfg' nor 'args' (architecture unknown)")
    return model, task, ckpt["model"]


# ------------------------------------------------------------------------------ architecture

def parse_conv_layers(text, src):
    """Parses fairseq's conv_feature_layers string, e.g. "[(512,10,5)] + [(512,3,2)] * 4",
    with a whitelist of AST nodes (int constants, lists, tuples, list + list, list * int)."""
    def ev(node):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Tuple):
            return tuple(ev(e) for e in node.elts)
        if isinstance(node, ast.List):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add) and isinstance(a, list) and isinstance(b, list):
                return a + b
            if isinstance(node.op, ast.Mult):
                seq, n = (a, b) if isinstance(b, int) else (b, a)
                if isinstance(seq, list) and isinstance(n, int) and 0 <= n <= 1000:
                    return seq * n
        raise ValueError(ast.dump(node))

    try:
        layers = ev(ast.parse(str(text), mode="eval").body)
    except (SyntaxError, ValueError, RecursionError):
        layers = None
    if (not isinstance(layers, list) or not layers or
            not all(isinstance(l, tuple) and len(l) == 3 and all(v > 0 for v in l)
                    for l in layers)):
        fail(f"{src}: conv_feature_layers {text!r} is not a list of (dim, kernel, stride) tuples "
             f"written with [...], (...), + and *")
    return layers


def hf_config(model, task, src):
    """Builds the HF-Hubert-style config that common.mert_config maps to musefm."""
    problems = []
    missing = [k for k in REQUIRED if k not in model]
    if missing:
        problems.append(f"cfg['model'] lacks {', '.join(missing)}")
    if "sample_rate" not in task:
        problems.append("cfg['task'] lacks sample_rate")
    name = model.get("_name")
    if name not in MODEL_NAMES:
        problems.append(f"model '{name}' is not a HuBERT / MERT pretraining model (fine-tuned "
                        f"and other architectures are not supported)")
    for key, (want, what) in UNSUPPORTED.items():
        if key in model and model[key] != want:
            problems.append(f"{key}={model[key]!r} ({what}) is not supported; musefm implements "
                            f"{key}={want!r}")
    if model.get("activation_fn", "gelu") != "gelu":
        problems.append(f"activation_fn={model['activation_fn']!r} is not supported (musefm's "
                        f"MERT encoder uses exact GELU)")
    if model.get("extractor_mode", "default") not in ("default", "layer_norm"):
        problems.append(f"extractor_mode={model['extractor_mode']!r} is not supported")
    if problems:
        fail(f"{src}: unsupported checkpoint:\n  " + "\n  ".join(problems))

    layers = parse_conv_layers(model["conv_feature_layers"], src)
    H, heads = int(model["encoder_embed_dim"]), int(model["encoder_attention_heads"])
    if H % heads or H % int(model["conv_pos_groups"]):
        fail(f"{src}: encoder_embed_dim {H} is not divisible by encoder_attention_heads {heads} "
             f"and conv_pos_groups {model['conv_pos_groups']}")
    relax = model.get("attention_relax", -1.0)
    if relax is not None and relax > 0:
        # MultiheadAttention_extend computes (a/r - max(a/r)) * r = a - max(a): the softmax is
        # unchanged (an fp16 overflow guard); parameter names are those of MultiheadAttention.
        print(f"note: attention_relax={relax} only shifts the attention logits before the "
              f"softmax; converted as standard attention")
    return {
        "conv_dim": [int(d) for d, _, _ in layers],
        "conv_kernel": [int(k) for _, k, _ in layers],
        "conv_stride": [int(s) for _, _, s in layers],
        "conv_bias": bool(model["conv_bias"]),
        "feat_extract_norm": "group" if model["extractor_mode"] == "default" else "layer",
        "feat_proj_layer_norm": True,  # HubertModel.layer_norm (affine) before the projection
        "num_conv_pos_embeddings": int(model["conv_pos"]),
        "num_conv_pos_embedding_groups": int(model["conv_pos_groups"]),
        "hidden_size": H,
        "num_hidden_layers": int(model["encoder_layers"]),
        "num_attention_heads": heads,
        "intermediate_size": int(model["encoder_ffn_embed_dim"]),
        "layer_norm_eps": 1e-5,  # fairseq LayerNorm / Fp32GroupNorm default eps
        "do_stable_layer_norm": bool(model["layer_norm_first"]),
        "hidden_act": "gelu",
        "sample_rate": int(task["sample_rate"]),
    }


# ------------------------------------------------------------------------------------ names

def expected_parameters(hf):
    """[(fairseq name, HF name, shape, required)] for the inference graph of config `hf`."""
    out = []
    dims, group = hf["conv_dim"], hf["feat_extract_norm"] == "group"
    c_in = 1
    for i, (d, k) in enumerate(zip(dims, hf["conv_kernel"])):
        fs, h = f"feature_extractor.conv_layers.{i}", f"feature_extractor.conv_layers.{i}"
        out.append((f"{fs}.0.weight", f"{h}.conv.weight", [d, c_in, k], True))
        if hf["conv_bias"]:
            out.append((f"{fs}.0.bias", f"{h}.conv.bias", [d], True))
        if not group or i == 0:  # GroupNorm is block[2]; LayerNorm is block[2][1]
            norm = f"{fs}.2" if group else f"{fs}.2.1"
            for p in ("weight", "bias"):
                out.append((f"{norm}.{p}", f"{h}.layer_norm.{p}", [d], True))
        c_in = d
    H, F, C = hf["hidden_size"], hf["intermediate_size"], dims[-1]
    for p in ("weight", "bias"):
        out.append((f"layer_norm.{p}", f"feature_projection.layer_norm.{p}", [C], True))
    out.append(("post_extract_proj.weight", "feature_projection.projection.weight", [H, C], True))
    out.append(("post_extract_proj.bias", "feature_projection.projection.bias", [H], True))
    out.append(("encoder.pos_conv.0.bias", "encoder.pos_conv_embed.conv.bias", [H], True))
    for p in ("weight", "bias"):
        out.append((f"encoder.layer_norm.{p}", f"encoder.layer_norm.{p}", [H], True))
    for n in range(hf["num_hidden_layers"]):
        fs = hf_ = f"encoder.layers.{n}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            out.append((f"{fs}.self_attn.{proj}.weight", f"{hf_}.attention.{proj}.weight",
                        [H, H], True))
            out.append((f"{fs}.self_attn.{proj}.bias", f"{hf_}.attention.{proj}.bias", [H], True))
        for fs_ln, hf_ln in (("self_attn_layer_norm", "layer_norm"),
                             ("final_layer_norm", "final_layer_norm")):
            for p in ("weight", "bias"):
                out.append((f"{fs}.{fs_ln}.{p}", f"{hf_}.{hf_ln}.{p}", [H], True))
        for fs_fc, hf_fc, shape_w, shape_b in (("fc1", "intermediate_dense", [F, H], [F]),
                                               ("fc2", "output_dense", [H, F], [H])):
            out.append((f"{fs}.{fs_fc}.weight", f"{hf_}.feed_forward.{hf_fc}.weight", shape_w,
                        True))
            out.append((f"{fs}.{fs_fc}.bias", f"{hf_}.feed_forward.{hf_fc}.bias", shape_b, True))
    # The mask embedding is kept under HF's name, as transformers' conversion does (musefm loads
    # it as optional and ignores it at inference).
    out.append(("mask_emb", "masked_spec_embed", [H], False))
    return out


def pos_conv_parameters(hf, state):
    """The weight-normed positional conv: weight_g/weight_v (torch.nn.utils.weight_norm, what
    fairseq saves), parametrizations.weight.original0/1, or an already folded weight. Written
    under the parametrizations names that transformers' save_pretrained uses today."""
    H, G, K = hf["hidden_size"], hf["num_conv_pos_embedding_groups"], hf["num_conv_pos_embeddings"]
    fs, h = "encoder.pos_conv.0", "encoder.pos_conv_embed.conv"
    g_shape, v_shape = [1, 1, K], [H, H // G, K]
    if f"{fs}.weight" in state and f"{fs}.weight_g" not in state:
        return [(f"{fs}.weight", f"{h}.weight", v_shape, True)]
    if f"{fs}.parametrizations.weight.original0" in state:
        src_g, src_v = (f"{fs}.parametrizations.weight.original0",
                        f"{fs}.parametrizations.weight.original1")
    else:
        src_g, src_v = f"{fs}.weight_g", f"{fs}.weight_v"
    return [(src_g, f"{h}.parametrizations.weight.original0", g_shape, True),
            (src_v, f"{h}.parametrizations.weight.original1", v_shape, True)]


def shape_str(shape):
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


def rename_state(hf, state, src):
    table = expected_parameters(hf) + pos_conv_parameters(hf, state)
    identity_proj = (hf["conv_dim"][-1] == hf["hidden_size"]
                     and "post_extract_proj.weight" not in state)
    if identity_proj:  # fairseq builds no projection when the dims agree; HF always has one
        table = [row for row in table if not row[0].startswith("post_extract_proj.")]
    known = {row[0] for row in table}
    missing, misshaped, unexpected, dropped = [], [], [], []
    out = {}
    for fs_name, hf_name, shape, required in table:
        t = state.get(fs_name)
        if t is None:
            if required:
                missing.append(fs_name)
        elif not isinstance(t, torch.Tensor) or list(t.shape) != shape:
            got = shape_str(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            misshaped.append(f"{fs_name} {got} (expected {shape_str(shape)})")
        else:
            out[hf_name] = t
    for name in state:
        if name in known:
            continue
        (dropped if TRAINING_ONLY.match(name) else unexpected).append(name)
    if missing or unexpected or misshaped:
        lines = [f"{src}: parameters do not match cfg['model'] ({hf['num_hidden_layers']} "
                 f"layers x {hf['hidden_size']}, FFN {hf['intermediate_size']}, "
                 f"{len(hf['conv_dim'])} conv layers):"]
        if missing:
            lines.append("  missing: " + ", ".join(missing))
        if unexpected:
            lines.append("  unexpected: " + ", ".join(unexpected))
        if misshaped:
            lines.append("  wrong shape: " + ", ".join(misshaped))
        fail("\n".join(lines))
    if identity_proj:
        ref = out["feature_projection.layer_norm.weight"]
        out["feature_projection.projection.weight"] = torch.eye(hf["hidden_size"], dtype=ref.dtype)
        out["feature_projection.projection.bias"] = torch.zeros(hf["hidden_size"], dtype=ref.dtype)
        print("note: no post_extract_proj (conv dim == encoder_embed_dim): wrote an identity "
              "feature_projection.projection")
    if dropped:
        print(f"note: dropped {len(dropped)} training-only parameters: "
              f"{', '.join(sorted(dropped))}")
    return {k: v.detach().clone().contiguous() for k, v in out.items()}


def convert_fairseq_mert(src: str, out: str) -> Tuple[Config, State]:
    model, task, state = checkpoint_sections(load_checkpoint(src), src)
    hf = hf_config(model, task, src)
    config = mert_config(hf)
    tensors = rename_state(hf, state, src)
    write_model_dir(out, config, tensors, src)
    return config, tensors

