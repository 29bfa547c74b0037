#!/usr/bin/env python3
"""Converts a published checkpoint into a musefm model directory (config.json + model.safetensors).

  hf-mert SRC OUT        a Hugging Face MERT / Hubert directory (config.json + model.safetensors
                         or pytorch_model.bin), e.g. a local copy of m-a-p/MERT-v1-95M or -330M.
                         Parameter names are kept (musefm reads HF names).
  fairseq-mert SRC OUT   a fairseq MERT / HuBERT checkpoint (.pt with "cfg" and "model");
                         parameter names are mapped to the HF names.
  musicfm SRC OUT --stats STATS.json
                         a MusicFM checkpoint (pretrained_msd.pt / pretrained_fma.pt, a
                         {"state_dict": {"model.<key>": ...}} file) and its stats json
                         (melspec_2048_mean / melspec_2048_std); upstream names are kept.
  encodec SRC OUT [--arch ARCH.json] [--encoder-only]
                         an EnCodec state dict (encodec_24khz-d7cc33bc.th, or torch.save of
                         EncodecModel.encodec_model_24khz().state_dict()) for musefm's
                         EncodecTeacher; upstream names are kept (see convert_encodec.py).

Missing, unexpected or mis-shaped parameters stop the conversion with a list of them.
Run with the project venv: .venv/bin/python tools/convert_checkpoint.py FORMAT SRC OUT
"""
import argparse
import json
import os
import struct
import sys

import torch
from safetensors.torch import load_file, save_file

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
# Prefixes under which wrappers store the encoder (e.g. HubertForCTC keeps it in "hubert.").
PREFIXES = ("hubert.", "model.")


def fail(message):
    sys.exit(f"convert_checkpoint: {message}")


def mert_config(hf):
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


def load_state(src):
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


def convert_hf_mert(src, out):
    with open(os.path.join(src, "config.json")) as f:
        config = mert_config(json.load(f))
    state = load_state(src)
    write_model_dir(out, config, state, src)
    return config, state


def write_model_dir(out, config, state, source):
    """Writes OUT/config.json and OUT/model.safetensors (contiguous tensors, source noted)."""
    os.makedirs(out, exist_ok=True)
    state = {k: v.contiguous() for k, v in state.items()}
    path = os.path.join(out, "model.safetensors")
    save_file(state, path, metadata={"format": "pt", "converted_from": os.path.basename(source)})
    sort_safetensors_metadata(path)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")


def sort_safetensors_metadata(path):
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("format", choices=["hf-mert", "fairseq-mert", "musicfm", "encodec"])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--stats", help="MusicFM stats json (musicfm format only)")
    ap.add_argument("--arch", help="JSON object overriding EncodecConfig fields (encodec only)")
    ap.add_argument("--encoder-only", action="store_true",
                    help="leave out decoder.* and training-only codebook buffers (encodec only)")
    args = ap.parse_args()
    if args.stats and args.format != "musicfm":
        fail("--stats only applies to the musicfm format")
    if (args.arch or args.encoder_only) and args.format != "encodec":
        fail("--arch and --encoder-only only apply to the encodec format")
    if args.format == "encodec":
        from convert_encodec import convert_encodec
        config, state = convert_encodec(args.src, args.out, args.arch, args.encoder_only)
        print(f"wrote {args.out}: {len(state)} tensors, EnCodec {config['sample_rate']} Hz, "
              f"{config['n_q']} codebooks x {config['bins']}")
        return
    if args.format == "hf-mert":
        config, state = convert_hf_mert(args.src, args.out)
    elif args.format == "fairseq-mert":
        from convert_fairseq_mert import convert_fairseq_mert
        config, state = convert_fairseq_mert(args.src, args.out)
    else:
        if not args.stats:
            fail("the musicfm format needs --stats STATS.json (melspec_2048_mean/std)")
        from convert_musicfm import convert_musicfm
        config, state = convert_musicfm(args.src, args.stats, args.out)
    print(f"wrote {args.out}: {len(state)} tensors, {config['num_hidden_layers']} layers x "
          f"{config['hidden_size']}")


if __name__ == "__main__":
    main()
