#!/usr/bin/env python3
"""Pretraining parity fixtures from the reference implementations (tests/fixtures/pretrain/).

loss.safetensors: a tiny transformers HubertModel (configs/tiny-mert.json) with MERT's heads and
objective, written the HuBERT/MERT way in PyTorch:
  features = feature_extractor(wav); features_pen = mean(features^2)
  x = encoder(mask_embed(feature_projection(features)))   (masked frames -> masked_spec_embed)
  per codebook c: logits = cos(final_proj(x)_c, label_embs_c) / 0.1, CE summed over masked frames
  cqt: MSE of Linear(H -> 336) against nnAudio's CQT (MERT's settings) on masked frames
  loss = (sum_c CE_c + SSE_cqt / 336) / M + 10 * features_pen       (M = masked frames)
with fairseq's GradMultiply(0.1) into the conv front-end. Stores the weights (HF names), the
batch, the mask, the targets, the loss parts and the gradients of every parameter.

adamw.safetensors: torch.optim.AdamW (betas 0.9/0.98, eps 1e-6, weight decay 0.01) over three
steps with given gradients and learning rates.

Run: .venv/bin/python tools/make_pretrain_fixtures.py
"""
import json
import os

import numpy as np
import soundfile as sf
import torch
import transformers
from nnAudio.features.cqt import CQT
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "pretrain")
HF_KEYS = ["conv_dim", "conv_kernel", "conv_stride", "conv_bias", "feat_extract_norm",
           "num_conv_pos_embeddings", "num_conv_pos_embedding_groups", "hidden_size",
           "num_hidden_layers", "num_attention_heads", "intermediate_size", "layer_norm_eps",
           "do_stable_layer_norm", "hidden_act"]


class GradMultiply(torch.autograd.Function):  # fairseq.modules.GradMultiply
    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.new(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


def loss_fixture():
    cfg = json.load(open(os.path.join(ROOT, "configs", "tiny-mert.json")))
    hf = transformers.HubertConfig(**{k: cfg[k] for k in HF_KEYS}, feat_proj_layer_norm=True,
                                   hidden_dropout=0.0, activation_dropout=0.0,
                                   attention_dropout=0.0, feat_proj_dropout=0.0, layerdrop=0.0,
                                   apply_spec_augment=False)
    torch.manual_seed(7)
    hf._attn_implementation = "eager"
    model = transformers.HubertModel(hf).train()
    with torch.no_grad():
        model.masked_spec_embed.uniform_()
    H, codebooks, final_dim, temp = cfg["hidden_size"], [7, 5], 8, 0.1
    final_proj = torch.nn.Linear(H, final_dim * len(codebooks))
    label_embs = torch.nn.Parameter(torch.rand(sum(codebooks), final_dim))
    cqt_head = torch.nn.Linear(H, 336)

    y, sr = sf.read(os.path.join(ROOT, "tests", "fixtures", "real_24k.wav"), dtype="float32")
    L = 9600
    wav = torch.from_numpy(np.stack([y[:L], y[12000:12000 + L]]).copy())
    conv = GradMultiply.apply(model.feature_extractor(wav), 0.1)  # [B, C, T]
    features = conv.transpose(1, 2)
    T = features.shape[1]
    gen = torch.Generator().manual_seed(3)
    mask = torch.rand(2, T, generator=gen) < 0.5
    targets = torch.stack([torch.randint(0, k, (2, T), generator=gen) for k in codebooks])
    pen = features.float().pow(2).mean()
    hidden = model.feature_projection(features)
    if isinstance(hidden, tuple):  # (hidden, norm_hidden) in older transformers
        hidden = hidden[0]
    hidden = hidden.clone()
    hidden[mask] = model.masked_spec_embed.to(hidden.dtype)
    x = model.encoder(hidden).last_hidden_state
    xm = x[mask]
    M = int(mask.sum())
    proj = final_proj(xm).split(final_dim, dim=-1)
    ce, correct, offset = [], [], 0
    for c, k in enumerate(codebooks):
        emb = label_embs[offset:offset + k]
        offset += k
        logits = torch.nn.functional.cosine_similarity(proj[c][:, None, :], emb[None], dim=-1) / temp
        ce.append(torch.nn.functional.cross_entropy(logits, targets[c][mask], reduction="sum"))
        correct.append((logits.argmax(-1) == targets[c][mask]).sum())
    cqt = CQT(sr=24000, hop_length=320, fmin=32.7, fmax=None, n_bins=336, bins_per_octave=48,
              filter_scale=1, norm=1, window="hann", center=True, pad_mode="constant",
              trainable=False, output_format="Magnitude", verbose=False)
    target = cqt(wav).transpose(-1, -2)[:, :T]
    sse = ((cqt_head(xm) - target[mask]) ** 2).sum() / 336
    loss = (sum(ce) + sse) / M + 10.0 * pen
    params = dict(model.named_parameters())
    params.update({"final_proj.weight": final_proj.weight, "final_proj.bias": final_proj.bias,
                   "label_embs_concat": label_embs, "cqt_head.weight": cqt_head.weight,
                   "cqt_head.bias": cqt_head.bias})
    loss.backward()
    out = {"wav": wav, "mask": mask.to(torch.uint8), "targets": targets,
           "loss": loss.detach().double().reshape(1),
           "ce": torch.stack(ce).detach().double(), "correct": torch.stack(correct).double(),
           "sse": sse.detach().double().reshape(1), "pen_sum": (pen * features.numel()).detach().double().reshape(1),
           "masked": torch.tensor([float(M)], dtype=torch.float64),
           "feature_elems": torch.tensor([float(features.numel())], dtype=torch.float64)}
    for name, p in params.items():
        out["weight/" + name] = p.detach().contiguous()
        out["grad/" + name] = p.grad.detach().contiguous()
    meta = {"config": json.dumps(cfg), "codebooks": json.dumps(codebooks), "final_dim": str(final_dim),
            "torch": torch.__version__, "transformers": transformers.__version__}
    save_file(out, os.path.join(OUT, "loss.safetensors"), metadata=meta)
    print(f"loss.safetensors: loss {loss.item():.6f}, M {M}, T {T}, {len(params)} parameters")


def adamw_fixture():
    gen = torch.Generator().manual_seed(11)
    shapes = {"a": (5, 3), "b": (4,), "c": (2, 3, 2)}
    params = {n: torch.nn.Parameter(torch.randn(s, generator=gen)) for n, s in shapes.items()}
    out = {f"init/{n}": p.detach().clone() for n, p in params.items()}
    opt = torch.optim.AdamW(params.values(), lr=1.0, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)
    lrs = [1e-3, 5e-4, 2e-3]
    for step, lr in enumerate(lrs):
        for g in opt.param_groups:
            g["lr"] = lr
        for n, p in params.items():
            p.grad = torch.randn(p.shape, generator=gen) * (step + 1)
            out[f"grad{step}/{n}"] = p.grad.clone()
        opt.step()
        for n, p in params.items():
            out[f"after{step}/{n}"] = p.detach().clone()
    save_file(out, os.path.join(OUT, "adamw.safetensors"), metadata={"lrs": json.dumps(lrs)})
    print("adamw.safetensors: 3 steps")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    loss_fixture()
    adamw_fixture()
