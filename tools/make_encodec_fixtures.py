#!/usr/bin/env python3
"""Writes parity fixtures for musefm's EncodecTeacher (include/musefm/codec.h): a small EnCodec
model with random weights, built from the PyPI `encodec` package's own modules, and its encoder
output and RVQ codes on real music.

The released 24 kHz model holds ~60 MB of encoder + codebook weights, too much for a fixture, so
the fixture model has the same structure (SEANetEncoder: causal, weight norm, reflect padding,
ratios [8, 5, 4, 2], one residual block per stage with a 1x1 conv shortcut, 2-layer LSTM with
skip; ResidualVectorQuantizer; EncodecModel around them) at a smaller width: TINY below.
tools/check_encodec_full.py runs the same comparison at full size.

  tests/fixtures/teachers/encodec_tiny/
    config.json, model.safetensors   the model's state_dict(), saved with torch.save as the
                      released .th files are, converted by `tools/convert_checkpoint.py encodec`
                      (upstream names kept: weight_g / weight_v, decoder.*, codebook buffers)
    reference.safetensors
      emb            f32 [1, dimension, 150]  model.encoder(x), x = samples [0, 48000) (2 s) of
                     tests/fixtures/real_24k.wav (PCM16 read as float32 / 32768, as libsndfile)
      codes_bw<i>    i64 [1, n_q(bw_i), 150]  model.encode(x) after set_target_bandwidth(bw_i)
      bandwidths     f64 [2]                  bw_0, bw_1 (kbps)
      lengths        i64 [4]                  1, 319, 320, 321
      emb_len<L>     f32 [1, dimension, T_L]  model.encoder() of samples [24000, 24000 + L)
      codes_len<L>   i64 [1, n_q(bw_1), T_L]  codes of that excerpt at bw_1
      target_bandwidths         f64 [5]  the models' target bandwidths
      num_codebooks             i64 [5]  codebooks the fixture model uses at each (upstream
                                         get_num_quantizers_for_bandwidth, capped at n_q as
                                         ResidualVectorQuantization slices its layers)
      num_codebooks_24khz       i64 [5]  the same for EncodecModel.encodec_model_24khz()
      metadata: input (the recording, relative to tests/fixtures), clip ("begin:end" of x),
                odd_offset (start of the short excerpts), seed
    versions.json   torch / encodec / numpy versions used

Weights: every weight-norm magnitude (weight_g) U[0.5, 1.5), direction (weight_v) N(0, 1),
conv biases N(0, 0.1^2), LSTM U(-1/sqrt(H), 1/sqrt(H)); codebook q drawn N(mean, std^2) of the
residual that reaches it on the fixture clip (so that every codebook is used), `inited` = 1.
Seeded: reruns write identical files.

Run: .venv/bin/pip install encodec==0.1.1 && .venv/bin/python tools/make_encodec_fixtures.py
"""
import json
import math
import os
import sys
import tempfile
import warnings

import numpy as np
import soundfile as sf
import torch
from safetensors.torch import save_file

warnings.filterwarnings("ignore", message=".*weight_norm.*")
import encodec  # noqa: E402
from encodec import modules as em  # noqa: E402
from encodec import quantization as eq  # noqa: E402
from encodec.model import EncodecModel  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from musefm_convert.common import sort_safetensors_metadata  # noqa: E402
from musefm_convert.encodec import ENCODEC_24KHZ, convert_encodec  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(FIXTURES, "teachers")
SEED = 2024
TINY = dict(ENCODEC_24KHZ, n_filters=2, dimension=32, n_q=8, bins=64)
CLIP = (0, 48000)           # samples of real_24k.wav: the main parity clip (2 s)
ODD_OFFSET = 24000          # the short excerpts start here
ODD_LENGTHS = (1, 319, 320, 321)
BANDWIDTHS = (1.5, 6.0)     # tiny model (bins 64): 3 and all 8 codebooks


def build_model(arch):
    """EncodecModel with `arch` (EncodecConfig fields), built as EncodecModel._get_model does."""
    seanet = dict(channels=arch["channels"], dimension=arch["dimension"],
                  n_filters=arch["n_filters"], n_residual_layers=arch["n_residual_layers"],
                  ratios=list(arch["ratios"]), norm="weight_norm", kernel_size=arch["kernel_size"],
                  last_kernel_size=arch["last_kernel_size"],
                  residual_kernel_size=arch["residual_kernel_size"],
                  dilation_base=arch["dilation_base"], causal=arch["causal"],
                  pad_mode=arch["pad_mode"], true_skip=arch["true_skip"],
                  compress=arch["compress"], lstm=arch["lstm_layers"])
    quantizer = eq.ResidualVectorQuantizer(dimension=arch["dimension"], n_q=arch["n_q"],
                                           bins=arch["bins"])
    model = EncodecModel(em.SEANetEncoder(**seanet), em.SEANetDecoder(**seanet), quantizer,
                         list(arch["target_bandwidths"]), arch["sample_rate"], arch["channels"],
                         normalize=False)
    return model.eval()


@torch.no_grad()
def randomise(model, seed, calibration):
    """Seeded random weights (see the module doc); codebooks scaled on `calibration` [1, 1, L]."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if name.endswith("weight_g"):
            p.copy_(torch.rand(p.shape, generator=g) + 0.5)
        elif name.endswith("weight_v"):
            p.copy_(torch.randn(p.shape, generator=g))
        elif ".lstm." in name:
            bound = 1 / math.sqrt(p.shape[-1] if p.dim() == 2 else p.shape[0] // 4)
            p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * bound)
        elif name.endswith("bias"):
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        else:
            raise AssertionError(f"unexpected parameter {name}")
    emb = model.encoder(calibration)
    residual = emb.transpose(1, 2).reshape(-1, emb.shape[1])
    for layer in model.quantizer.vq.layers:
        book = layer._codebook
        embed = residual.mean(0) + residual.std(0) * torch.randn(book.embed.shape, generator=g)
        book.embed.copy_(embed)
        book.embed_avg.copy_(embed)
        book.cluster_size.copy_(torch.rand(book.cluster_size.shape, generator=g))
        book.inited.fill_(1)
        residual = residual - embed[book.quantize(residual)]


def num_codebooks(quantizer, frame_rate, bandwidths):
    """Codebooks used per bandwidth: encodec's count, capped as the layer slice caps it."""
    return [min(quantizer.get_num_quantizers_for_bandwidth(frame_rate, bw), quantizer.n_q)
            for bw in bandwidths]


@torch.no_grad()
def reference_codes(model, x, bandwidth):
    model.set_target_bandwidth(bandwidth)
    frames = model.encode(x)
    assert len(frames) == 1 and frames[0][1] is None  # one segment, no normalisation
    return frames[0][0]


def read_clip():
    y, sr = sf.read(os.path.join(FIXTURES, "real_24k.wav"), dtype="float32")
    assert sr == 24000 and y.ndim == 1, (sr, y.shape)
    return torch.from_numpy(y)


def check_24khz_layout():
    """The arch dict reproduces encodec_model_24khz(): same names and shapes."""
    official = EncodecModel.encodec_model_24khz(pretrained=False).state_dict()
    mine = build_model(ENCODEC_24KHZ).state_dict()
    assert {k: v.shape for k, v in official.items()} == {k: v.shape for k, v in mine.items()}
    return EncodecModel.encodec_model_24khz(pretrained=False)


def main():
    torch.manual_seed(SEED)
    audio = read_clip()
    model = build_model(TINY)
    x = audio[CLIP[0]:CLIP[1]].reshape(1, 1, -1)
    randomise(model, SEED, x)
    out_dir = os.path.join(OUT, "encodec_tiny")
    with torch.no_grad(), tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "encodec_tiny.th")
        torch.save(model.state_dict(), source)
        config, _ = convert_encodec(source, out_dir)  # n_filters, dimension, n_q, bins: shapes
        assert config == TINY, config

        ref = {"emb": model.encoder(x)}
        for i, bw in enumerate(BANDWIDTHS):
            ref[f"codes_bw{i}"] = reference_codes(model, x, bw)
        ref["bandwidths"] = torch.tensor(BANDWIDTHS, dtype=torch.float64)
        ref["lengths"] = torch.tensor(ODD_LENGTHS, dtype=torch.int64)
        for n in ODD_LENGTHS:
            xs = audio[ODD_OFFSET:ODD_OFFSET + n].reshape(1, 1, -1)
            ref[f"emb_len{n}"] = model.encoder(xs)
            ref[f"codes_len{n}"] = reference_codes(model, xs, BANDWIDTHS[1])
        targets = list(TINY["target_bandwidths"])
        ref["target_bandwidths"] = torch.tensor(targets, dtype=torch.float64)
        ref["num_codebooks"] = torch.tensor(
            num_codebooks(model.quantizer, model.frame_rate, targets), dtype=torch.int64)
        full = check_24khz_layout()
        ref["num_codebooks_24khz"] = torch.tensor(
            num_codebooks(full.quantizer, full.frame_rate, full.target_bandwidths),
            dtype=torch.int64)
    ref = {k: v.contiguous() for k, v in ref.items()}
    path = os.path.join(out_dir, "reference.safetensors")
    save_file(ref, path, metadata={"input": "real_24k.wav",  # under tests/fixtures/
                                   "clip": f"{CLIP[0]}:{CLIP[1]}",
                                   "odd_offset": str(ODD_OFFSET), "seed": str(SEED)})
    sort_safetensors_metadata(path)
    versions = {"torch": torch.__version__, "encodec": encodec.__version__,
                "numpy": np.__version__}
    with open(os.path.join(out_dir, "versions.json"), "w") as f:
        json.dump(versions, f, indent=2)
        f.write("\n")
    used = [len(torch.unique(ref["codes_bw1"][0, q])) for q in range(ref["codes_bw1"].shape[1])]
    print(f"wrote {out_dir}: emb {list(ref['emb'].shape)}, codes at {BANDWIDTHS} kbps "
          f"{[list(ref[f'codes_bw{i}'].shape) for i in range(len(BANDWIDTHS))]}, "
          f"distinct codes per codebook {used}")


if __name__ == "__main__":
    main()
