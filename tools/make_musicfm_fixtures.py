#!/usr/bin/env python3
"""Writes parity fixtures for the C++ MusicFM encoder: a tiny MusicFM 25 Hz model with random
weights, saved the way minzwon/musicfm ships its checkpoints, converted with
tools/musefm_convert/musicfm.py, and its outputs on a two-clip batch of real music.

The reference follows model/musicfm_25hz.py (MusicFM25Hz.get_predictions / get_latent):
  torchaudio MelSpectrogram(24000, n_fft 2048, hop 240, n_mels) -> AmplitudeToDB -> drop the last
  frame (modules/features.py, MusicFM25Hz.preprocessing) -> (x - mean) / std with the stats json
  (MusicFM25Hz.normalize) -> Conv2dSubsampling: two Res2d blocks, stride 2 in frequency and
  time, then "b c f t -> b t (c f)" and a Linear (modules/conv.py) -> transformers'
  Wav2Vec2ConformerEncoder with rotary attention, run in fp32, eval mode, eager attention.
Module names are those of MusicFM25Hz, so the state dict has the upstream keys.

MusicFM reads `hidden_states` off the encoder output: the input of every layer, then the final
conformer.layer_norm output (its copy of the encoder, modules/flash_conformer.py, and the
transformers versions it was written against). transformers 5 no longer returns hidden states
from the bare encoder, so they are recorded here with forward pre-hooks on the layers plus the
encoder's last_hidden_state, and checked against a from-the-spec reimplementation of MusicFM's
copy (rotary embedding on the layer-normed states before linear_q / linear_k, values unrotated,
softmax(q k^T / sqrt(head_dim)) v via scaled_dot_product_attention, no positional conv).

  tests/fixtures/encoders/musicfm_tiny/
    source/pretrained_tiny.pt  {"state_dict": {"model.<key>": tensor}}, upstream key names: mel
                               window + filterbank, quantizer_melspec_2048_0 random projection
                               [4 n_mels, 16] + codebook [64, 16], conv.*, conformer.* (positional
                               conv as weight_g / weight_v, embed_positions.inv_freq), linear.*,
                               cls_token
    source/stats.json          melspec_2048_mean / melspec_2048_std
    config.json, model.safetensors   convert_musicfm(source/pretrained_tiny.pt, source/stats.json)
                               (the ctest convert_musicfm_roundtrip reproduces them exactly)
    input.npy                  f32 [2, 24000]: samples 0..24000 and 24000..48000 of real_24k.wav
    mel.npy                    f32 [2, n_mels, T]: normalised log-mel fed to the conv (T = 100)
    conv_output.npy            f32 [2, T', hidden]: after conv.linear (T' = 25)
    hidden_states.npy          f32 [L+1, 2, T', hidden]: the input of every conformer layer, then
                               the final conformer.layer_norm output
  tests/fixtures/encoders/versions.json  torch / transformers / safetensors / torchaudio versions
                               (merged into the file make_encoder_fixtures.py writes)

Run: .venv/bin/python tools/make_musicfm_fixtures.py   (deterministic: a rerun gives identical
files)
"""
import json
import os
import sys

import numpy as np
import safetensors
import soundfile as sf
import torch
import torchaudio
import transformers
from torch import nn
from torch.nn import functional as F
from transformers.models.wav2vec2_conformer.modeling_wav2vec2_conformer import (
    Wav2Vec2ConformerConfig, Wav2Vec2ConformerEncoder)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from musefm_convert.musicfm import convert_musicfm  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
ENCODERS = os.path.join(FIXTURES, "encoders")
OUT = os.path.join(ENCODERS, "musicfm_tiny")
SEED = 4321

SAMPLE_RATE, N_FFT, HOP = 24000, 2048, 240
N_MELS = 32
CONV_CHANNELS = 16
CODEBOOK_SIZE, CODEBOOK_DIM = 64, 16
STATS = {"melspec_2048_mean": 6.77, "melspec_2048_std": 18.4}
CONFORMER = dict(
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    hidden_act="swish",
    position_embeddings_type="rotary",
    rotary_embedding_base=10000,
    conv_depthwise_kernel_size=7,
    layer_norm_eps=1e-5,
    # The positional conv is stored but never applied; small to keep the fixture small.
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=16,
)
# The architecture the builders take (tools/check_full_size.py passes the full-size one).
TINY = dict(n_mels=N_MELS, conv_channels=CONV_CHANNELS, codebook_size=CODEBOOK_SIZE,
            codebook_dim=CODEBOOK_DIM, conformer=CONFORMER)
NO_TRAINING = dict(hidden_dropout=0.0, activation_dropout=0.0, attention_dropout=0.0,
                   conformer_conv_dropout=0.0, feat_proj_dropout=0.0, final_dropout=0.0,
                   layerdrop=0.0)


class MelSTFT(nn.Module):
    """MusicFM's preprocessor_melspec_2048 (MelSTFT with is_db=True)."""

    def __init__(self, n_mels):
        super().__init__()
        self.mel_stft = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP, n_mels=n_mels)
        self.amplitude_to_db = torchaudio.transforms.AmplitudeToDB()

    def forward(self, wav):
        return self.amplitude_to_db(self.mel_stft(wav))


class RandomProjectionQuantizer(nn.Module):
    """BEST-RQ target quantizer: frozen buffers only (unused by the encoder forward)."""

    def __init__(self, input_dim, dim, size, generator):
        super().__init__()
        std = (2.0 / (input_dim + dim)) ** 0.5  # xavier_normal_ std, as upstream
        self.register_buffer("random_projection",
                             std * torch.randn(input_dim, dim, generator=generator))
        self.register_buffer("codebook", torch.randn(size, dim, generator=generator))


class Res2dModule(nn.Module):
    """3x3 conv (stride 2) -> BN -> ReLU -> 3x3 conv -> BN, plus a 3x3 conv (stride 2) -> BN
    shortcut, then ReLU."""

    def __init__(self, idim, odim):
        super().__init__()
        self.conv1 = nn.Conv2d(idim, odim, 3, padding=1, stride=(2, 2))
        self.bn1 = nn.BatchNorm2d(odim)
        self.conv2 = nn.Conv2d(odim, odim, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(odim)
        self.conv3 = nn.Conv2d(idim, odim, 3, padding=1, stride=(2, 2))
        self.bn3 = nn.BatchNorm2d(odim)

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.bn3(self.conv3(x)))


class Conv2dSubsampling(nn.Module):
    def __init__(self, channels, hidden, n_mels):
        super().__init__()
        self.conv = nn.Sequential(Res2dModule(1, channels), Res2dModule(channels, channels))
        self.linear = nn.Linear(channels * n_mels // 4, hidden)

    def forward(self, mel):  # [B, F, T] -> [B, T', hidden]
        x = self.conv(mel.unsqueeze(1))
        b, c, f, t = x.shape
        return self.linear(x.permute(0, 3, 1, 2).reshape(b, t, c * f))  # b c f t -> b t (c f)


class TinyMusicFM(nn.Module):
    """MusicFM25Hz's modules under their upstream attribute names (architecture `arch`, a dict
    shaped like TINY)."""

    def __init__(self, generator, arch=TINY):
        super().__init__()
        n_mels, conformer = arch["n_mels"], arch["conformer"]
        hidden = conformer["hidden_size"]
        self.preprocessor_melspec_2048 = MelSTFT(n_mels)
        self.quantizer_melspec_2048_0 = RandomProjectionQuantizer(
            4 * n_mels, arch["codebook_dim"], arch["codebook_size"], generator)
        self.conv = Conv2dSubsampling(arch["conv_channels"], hidden, n_mels)
        config = Wav2Vec2ConformerConfig(**conformer, **NO_TRAINING, attn_implementation="eager")
        self.conformer = Wav2Vec2ConformerEncoder(config)
        self.linear = nn.Linear(hidden, arch["codebook_size"])
        self.cls_token = nn.Parameter(torch.zeros(hidden))


@torch.no_grad()
def randomise(model, g):
    """Replaces every parameter and the BatchNorm statistics, so that no norm is an identity and
    the running statistics matter. Fixed buffers (mel window / filterbank, rotary inv_freq) and
    the quantizer (drawn at construction) are left as they are."""
    for module in model.modules():
        is_norm = isinstance(module, (nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d))
        for name, p in module.named_parameters(recurse=False):
            noise = torch.randn(p.shape, generator=g)
            if name == "bias":
                p.copy_(0.1 * noise)
            elif is_norm:
                p.copy_(1 + 0.2 * noise)
            elif p.dim() >= 2 and name == "weight":
                p.copy_(noise / (p[0].numel() ** 0.5))  # unit gain: activations stay O(1)
            else:                                       # cls_token, weight-norm g / v
                p.copy_(noise)
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = module.num_features
            module.running_mean.copy_(0.3 * torch.randn(n, generator=g))
            module.running_var.copy_(torch.exp(0.4 * torch.randn(n, generator=g)))
            module.num_batches_tracked.fill_(1000)


def build(arch=TINY, seed=SEED):
    g = torch.Generator().manual_seed(seed)
    model = TinyMusicFM(g, arch).eval()
    randomise(model, g)
    enc = model.conformer
    conformer = arch["conformer"]
    # The library must still build the graph MusicFM's copy has.
    assert enc.embed_positions.inv_freq.shape == (conformer["hidden_size"] //
                                                  conformer["num_attention_heads"] // 2,)
    assert enc.config._attn_implementation == "eager"
    assert all(type(layer).__name__ == "Wav2Vec2ConformerEncoderLayer" for layer in enc.layers)
    return model


def upstream_state_dict(model):
    """The state dict as MusicFM saves it: weight-norm tensors under the names of
    torch.nn.utils.weight_norm (weight_g / weight_v), every tensor in its own storage."""
    rename = {"parametrizations.weight.original0": "weight_g",
              "parametrizations.weight.original1": "weight_v"}
    state = {}
    for key, value in model.state_dict().items():
        for new_name in rename:
            if key.endswith(new_name):
                key = key[: -len(new_name)] + rename[new_name]
        state["model." + key] = value.detach().clone().contiguous()
    return {"state_dict": state}


def conformer_hidden_states(encoder, x):
    """MusicFM's `hidden_states`: the input of each layer, then the encoder output."""
    recorded = []
    hooks = [layer.register_forward_pre_hook(lambda _m, args: recorded.append(args[0]))
             for layer in encoder.layers]
    try:
        last = encoder(x).last_hidden_state
    finally:
        for h in hooks:
            h.remove()
    return recorded + [last]


def musicfm_copy_hidden_states(encoder, x):
    """Independent check: MusicFM's encoder (modules/flash_conformer.py) written from its spec."""
    cfg = encoder.config
    b, t, hidden = x.shape
    heads = cfg.num_attention_heads
    d = hidden // heads
    angles = torch.arange(t, dtype=torch.float32)[:, None] * encoder.embed_positions.inv_freq
    angles = torch.cat([angles, angles], -1)[:, None, :]  # [T, 1, d]
    cos, sin = angles.cos(), angles.sin()

    def ln(m, h):
        return F.layer_norm(h, (hidden,), m.weight, m.bias, m.eps)

    def ffn(m, h):
        return m.output_dense(F.silu(m.intermediate_dense(h)))

    def attention(m, h):
        heads_view = h.view(b, t, heads, d)
        rotated = torch.cat([-heads_view[..., d // 2:], heads_view[..., : d // 2]], -1)
        qk = (heads_view * cos + rotated * sin).reshape(b, t, hidden)
        split = lambda y: y.view(b, t, heads, d).transpose(1, 2)  # noqa: E731
        o = F.scaled_dot_product_attention(split(m.linear_q(qk)), split(m.linear_k(qk)),
                                           split(m.linear_v(h)))
        return m.linear_out(o.transpose(1, 2).reshape(b, t, hidden))

    def conv(m, h):
        y = ln(m.layer_norm, h).transpose(1, 2)
        y = F.glu(m.pointwise_conv1(y), dim=1)
        y = F.silu(m.batch_norm(m.depthwise_conv(y)))
        return m.pointwise_conv2(y).transpose(1, 2)

    states, h = [], x
    for layer in encoder.layers:
        states.append(h)
        h = h + 0.5 * ffn(layer.ffn1, ln(layer.ffn1_layer_norm, h))
        h = h + attention(layer.self_attn, ln(layer.self_attn_layer_norm, h))
        h = h + conv(layer.conv_module, h)
        h = h + 0.5 * ffn(layer.ffn2, ln(layer.ffn2_layer_norm, h))
        h = ln(layer.final_layer_norm, h)
    return states + [ln(encoder.layer_norm, h)]


def reference_forward(model, x, stats=STATS):
    """MusicFM25Hz on waveforms x [B, samples]: (normalised mel, conv output, hidden states)."""
    mel = model.preprocessor_melspec_2048(x)[..., :-1]
    mel = (mel - stats["melspec_2048_mean"]) / stats["melspec_2048_std"]
    conv_output = model.conv(mel)
    return mel, conv_output, conformer_hidden_states(model.conformer, conv_output)


def load_input():
    audio, sr = sf.read(os.path.join(FIXTURES, "real_24k.wav"), dtype="float32")
    assert sr == SAMPLE_RATE and audio.ndim == 1 and len(audio) >= 48000, (sr, audio.shape)
    return torch.from_numpy(np.stack([audio[:24000], audio[24000:48000]]))


def save_npy(name, t):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(t.numpy(), dtype=np.float32))


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def update_versions():
    """Adds this generator's package versions to encoders/versions.json; the packages both
    generators use must agree with what is recorded."""
    path = os.path.join(ENCODERS, "versions.json")
    versions = {}
    if os.path.exists(path):
        with open(path) as f:
            versions = json.load(f)
    mine = {"torch": torch.__version__, "transformers": transformers.__version__,
            "safetensors": safetensors.__version__, "torchaudio": torchaudio.__version__}
    clash = {k: (versions[k], v) for k, v in mine.items() if k in versions and versions[k] != v}
    if clash:
        sys.exit(f"{path} records other versions {clash}: regenerate every encoder fixture "
                 "(make_encoder_fixtures.py, then this script)")
    versions.update(mine)
    write_json(path, versions)


@torch.no_grad()
def main():
    torch.use_deterministic_algorithms(True)
    model = build()
    source = os.path.join(OUT, "source")
    os.makedirs(source, exist_ok=True)
    ckpt, stats = os.path.join(source, "pretrained_tiny.pt"), os.path.join(source, "stats.json")
    torch.save(upstream_state_dict(model), ckpt)
    write_json(stats, STATS)
    config, state = convert_musicfm(ckpt, stats, OUT,
                                    arch={"num_attention_heads": CONFORMER["num_attention_heads"]})
    # What was converted is what the reference runs.
    for key, value in model.state_dict().items():
        key = key.replace("parametrizations.weight.original0", "weight_g")
        key = key.replace("parametrizations.weight.original1", "weight_v")
        assert torch.equal(state[key], value), key

    x = load_input()
    mel, conv_output, hidden = reference_forward(model, x)
    check = musicfm_copy_hidden_states(model.conformer, conv_output)
    err = max((a - b).abs().max().item() for a, b in zip(hidden, check))
    assert len(hidden) == CONFORMER["num_hidden_layers"] + 1 and err < 1e-4, err
    hidden = torch.stack(hidden)

    assert mel.shape == (2, N_MELS, 100) and conv_output.shape == (2, 25, 64), \
        (mel.shape, conv_output.shape)
    save_npy("input.npy", x)
    save_npy("mel.npy", mel)
    save_npy("conv_output.npy", conv_output)
    save_npy("hidden_states.npy", hidden)
    update_versions()
    print(f"musicfm_tiny: {len(state)} tensors, mel {tuple(mel.shape)} (mean {mel.mean():.3f}, "
          f"std {mel.std():.3f}), conv_output {tuple(conv_output.shape)}, hidden_states "
          f"{tuple(hidden.shape)}, max|last| {hidden[-1].abs().max():.4f}, HF vs MusicFM-copy "
          f"reimplementation {err:.2e}")


if __name__ == "__main__":
    main()
