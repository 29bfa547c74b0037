#!/usr/bin/env python3
"""Writes tests/fixtures/weights.safetensors with the reference `safetensors` package (torch
API), and .npy copies of its floating tensors for the C++ tests to compare against:

  weights.safetensors      f32 [3, 5], f16 [4], bf16 [2, 3], i64 [] (a BatchNorm counter),
                           u8 [7], an empty f32 [0, 4]; metadata {"format": "pt", "origin": ...}
  weights_<name>.npy       float32 copies of each floating tensor (bf16/f16 upcast exactly)

Run: .venv/bin/python tools/make_safetensors_fixture.py
"""
import os

import numpy as np
import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fixtures")


def main():
    g = torch.Generator().manual_seed(7)
    tensors = {
        "encoder.layers.0.attention.q_proj.weight": torch.randn(3, 5, generator=g),
        "encoder.layer_norm.bias": torch.randn(4, generator=g).half(),
        "conv.linear.weight": torch.randn(2, 3, generator=g).bfloat16(),
        "conv.conv.0.bn1.num_batches_tracked": torch.tensor(12345, dtype=torch.int64),
        "quantizer.codes": torch.arange(7, dtype=torch.uint8),
        "empty": torch.zeros(0, 4),
    }
    save_file(tensors, os.path.join(OUT, "weights.safetensors"),
              metadata={"format": "pt", "origin": "tools/make_safetensors_fixture.py"})
    for name, t in tensors.items():
        if t.is_floating_point() and t.numel() > 0:
            np.save(os.path.join(OUT, f"weights_{name}.npy"), t.float().numpy())
    print("wrote", len(tensors), "tensors")


if __name__ == "__main__":
    main()
