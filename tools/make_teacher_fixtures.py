#!/usr/bin/env python3
"""Fixtures for the teachers' tests (tests/test_kmeans.cpp, tests/test_bestrq.cpp), from the
reference implementations:

  tests/fixtures/teachers/
    kmeans_rows.npy         598 x 39 real-music MFCC frames (the two MFCC fixtures stacked)
    kmeans_sklearn.json     scikit-learn MiniBatchKMeans (the fairseq learn_kmeans.py settings,
                            K = 8, seed 0): its inertia on the rows
    kmeans_centroids.npy    its centroids [8, 39]
    kmeans_labels.npy       its predict() on the rows [598] (int64)
    bestrq_projection.npy   MusicFM RandomProjectionQuantizer(512, 16, 4096, seed=142) buffers:
    bestrq_codebook64.npy   the projection [512, 16] and the codebook's first 64 rows
    bestrq_mel.npy          normalised MusicFM mel of the real-music fixture [1, 128, 300]
    bestrq_tokens.npy       upstream tokens of that mel: quantizers seed 142 and 143 [1, 2, 75]
    bestrq_noise.npy        white noise in place of a mel [2, 128, 258], and its seed-142
    bestrq_noise_tokens.npy tokens [2, 64] (real mel frames are alike; noise hits many codes)

The quantizer follows minzwon/musicfm modules/random_quantizer.py (torch.manual_seed(seed),
xavier_normal_ projection, normal_ codebook, cdist of L2-normalised vectors) and
model/musicfm_25hz.py (normalise with the stats, "b f (t s) -> b t (s f)" with s = 4).

Run: .venv/bin/python tools/make_teacher_fixtures.py   (deterministic)
"""
import json
import os

import numpy as np
import sklearn
import torch
from sklearn.cluster import MiniBatchKMeans
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(FIX, "teachers")
# A MusicFM mel mean / std pair (reference/models.md section 2); any constants serve the test.
MEL_MEAN, MEL_STD = 6.768444971712967, 18.417922652295623


def kmeans():
    rows = np.concatenate([np.load(os.path.join(FIX, "mfcc_hubert_16k.npy")),
                           np.load(os.path.join(FIX, "mfcc_nosnip_24k.npy"))]).astype(np.float32)
    # fairseq examples/hubert/simple_kmeans/learn_kmeans.py settings (batch capped by N).
    km = MiniBatchKMeans(n_clusters=8, init="k-means++", max_iter=100, batch_size=10000,
                         tol=0.0, max_no_improvement=100, n_init=20, reassignment_ratio=0.0,
                         init_size=None, compute_labels=False, random_state=0).fit(rows)
    np.save(os.path.join(OUT, "kmeans_rows.npy"), rows)
    np.save(os.path.join(OUT, "kmeans_centroids.npy"), km.cluster_centers_.astype(np.float32))
    np.save(os.path.join(OUT, "kmeans_labels.npy"), km.predict(rows).astype(np.int64))
    inertia = float(-km.score(rows))
    with open(os.path.join(OUT, "kmeans_sklearn.json"), "w") as f:
        json.dump(dict(k=8, inertia=inertia, sklearn=sklearn.__version__, rows=len(rows)), f,
                  indent=2)
    print(f"k-means: {rows.shape} rows, scikit-learn inertia {inertia:.1f}")


def quantizer(seed, input_dim=512, dim=16, size=4096):
    torch.manual_seed(seed)
    projection = torch.empty(input_dim, dim)
    nn.init.xavier_normal_(projection)
    codebook = torch.empty(size, dim)
    nn.init.normal_(codebook)
    return projection, codebook


def tokens(x, projection, codebook):  # x [B, N, 512]
    b = x.shape[0]
    z = torch.einsum("bnd,de->bne", x, projection).reshape(-1, projection.shape[1])
    d = torch.cdist(nn.functional.normalize(codebook, dim=1, p=2),
                    nn.functional.normalize(z, dim=1, p=2))
    return d.argmin(0).reshape(b, -1)


def bestrq():
    mel = (torch.from_numpy(np.load(os.path.join(FIX, "mel_musicfm.npy")))[None] - MEL_MEAN) / MEL_STD
    b, f, t = mel.shape
    x = mel.reshape(b, f, t // 4, 4).permute(0, 2, 3, 1).reshape(b, t // 4, 4 * f)  # (t s) -> t (s f)
    out = []
    for seed in (142, 143):
        p, c = quantizer(seed)
        if seed == 142:
            np.save(os.path.join(OUT, "bestrq_projection.npy"), p.numpy())
            np.save(os.path.join(OUT, "bestrq_codebook64.npy"), c[:64].numpy())
        out.append(tokens(x, p, c))
    toks = torch.stack(out, 1).numpy().astype(np.int64)
    np.save(os.path.join(OUT, "bestrq_mel.npy"), mel.numpy().astype(np.float32))
    np.save(os.path.join(OUT, "bestrq_tokens.npy"), toks)
    # Real mel frames are alike (few distinct codes): a white-noise "mel" exercises many codes.
    g = torch.Generator().manual_seed(5)
    noise = torch.randn(2, 128, 258, generator=g)  # 258 frames: the last 2 are dropped
    xn = noise[..., :256].reshape(2, 128, 64, 4).permute(0, 2, 3, 1).reshape(2, 64, 512)
    tn = tokens(xn, *quantizer(142)).numpy().astype(np.int64)
    np.save(os.path.join(OUT, "bestrq_noise.npy"), noise.numpy())
    np.save(os.path.join(OUT, "bestrq_noise_tokens.npy"), tn)
    print(f"BEST-RQ: tokens {toks.shape}, {len(np.unique(toks[0, 0]))} distinct codes on real "
          f"music; {tn.shape}, {len(np.unique(tn))} distinct on noise")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    kmeans()
    bestrq()
