#!/usr/bin/env python3
"""Full-size EnCodec parity: musefm's EncodecTeacher vs the PyPI `encodec` package on the real
24 kHz architecture (EncodecModel.encodec_model_24khz(pretrained=False), ~15M encoder and
codebook parameters) with random weights, on 10 s of real music.

Steps: build the model, randomise it as tools/make_encodec_fixtures.py does (seeded; codebooks
scaled to the residuals on the input), torch.save its state_dict like the released .th file,
convert it with `tools/convert_checkpoint.py encodec`, run build/benchmarks/bench_encodec on
the input and compare its encoder output (max |d| / max |ref|) and its codes at each
bandwidth with encodec's `model.encode()`. Exit status 1 when the encoder output differs by
more than --tol or fewer than --min-equal of the codes agree.

The input is tests/fixtures/real_24k.wav (3 s) tiled to --seconds.

Run: .venv/bin/pip install encodec==0.1.1 && cmake --build build --target bench_encodec &&
     .venv/bin/python tools/check_encodec_full.py [--seconds 10] [--bandwidths 1.5 6 24]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from musefm_convert.encodec import ENCODEC_24KHZ, convert_encodec  # noqa: E402
from make_encodec_fixtures import (SEED, EncodecModel, randomise, read_clip,  # noqa: E402
                                   reference_codes)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def full_model(x):
    """The released architecture with seeded random weights calibrated on x [1, 1, L]."""
    torch.manual_seed(SEED)
    model = EncodecModel.encodec_model_24khz(pretrained=False)
    randomise(model, SEED, x)
    return model


def tiled_input(seconds):
    audio = read_clip().numpy()
    n = int(seconds * 24000)
    return torch.from_numpy(np.tile(audio, n // len(audio) + 1)[:n].copy())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--bandwidths", type=float, nargs="+", default=[1.5, 6.0, 24.0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--chunk", type=int, default=750,
                    help="encoder chunk in frames (EncodecTeacher::encode; 0 = one pass)")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--min-equal", type=float, default=0.999)
    args = ap.parse_args()
    x = tiled_input(args.seconds)
    model = full_model(x.reshape(1, 1, -1))
    ok = True
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        source, model_dir = os.path.join(tmp, "encodec_24khz.th"), os.path.join(tmp, "model")
        torch.save(model.state_dict(), source)
        config, _ = convert_encodec(source, model_dir)
        assert config == ENCODEC_24KHZ, config
        np.save(os.path.join(tmp, "x.npy"), x.unsqueeze(0).numpy())
        ref_emb = model.encoder(x.reshape(1, 1, -1))
        for i, bw in enumerate(args.bandwidths):
            emb_out = [os.path.join(tmp, "emb.npy")] if i == 0 else []
            run = subprocess.run([os.path.join(args.build, "benchmarks", "bench_encodec"),
                                  model_dir, os.path.join(tmp, "x.npy"),
                                  os.path.join(tmp, "codes.npy"), "0", str(bw),
                                  str(args.chunk)] + emb_out,
                                 capture_output=True, text=True)
            if run.returncode != 0:
                sys.exit(f"bench_encodec failed: {run.stderr.strip()}")
            info = json.loads(run.stdout)
            if i == 0:
                emb = torch.from_numpy(np.load(os.path.join(tmp, "emb.npy")))
                err = ((emb - ref_emb).abs().max() / ref_emb.abs().max()).item()
                ok &= err <= args.tol
                print(f"encoder output {list(emb.shape)}: max|d|/max|ref| = {err:.2e} "
                      f"(tolerance {args.tol:g}); musefm loaded the model in "
                      f"{info['load_ms']:.0f} ms")
            codes = torch.from_numpy(np.load(os.path.join(tmp, "codes.npy"))).long()
            ref = reference_codes(model, x.reshape(1, 1, -1), bw)
            same = (codes == ref).double().mean().item() if codes.shape == ref.shape else 0.0
            frames = (codes == ref).all(dim=1).double().mean().item() if same else 0.0
            ok &= same >= args.min_equal
            print(f"codes at {bw:g} kbps {list(codes.shape)} (encodec {list(ref.shape)}): "
                  f"{100 * same:.3f}% of codes equal, {100 * frames:.3f}% of frames with all "
                  f"codebooks equal")
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
