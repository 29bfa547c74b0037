#!/usr/bin/env python3
"""k-means teacher speed and quality: musefm vs scikit-learn MiniBatchKMeans (and faiss).

Data: N rows (default 1,000,000) x 39 dims drawn from a seeded Gaussian mixture of 1,000
anisotropic components (stand-in for MFCC + delta frames; no real corpus of that size ships
with the project). Every implementation fits K (default 500) clusters on the same rows with
the same thread count, in the same run:

  musefm           build/benchmarks/bench_kmeans (default KMeansConfig: one greedy k-means++ on
                   max(40K, 20,000) sampled rows, Lloyd iterations on 256K sampled rows, then
                   Lloyd passes over all rows (fused distance + arg-min kernel) until one gains
                   less than 0.1 %), seed 0
  sklearn-fairseq  MiniBatchKMeans with fairseq's examples/hubert/simple_kmeans/learn_kmeans.py
                   settings (batch 10,000, max_iter 100, max_no_improvement 100, n_init 20,
                   reassignment_ratio 0, tol 0), random_state 0 -- what the HuBERT/MERT recipe runs
  sklearn-default  MiniBatchKMeans(n_clusters=K, random_state=0), library defaults
  faiss            faiss.Kmeans(d, K, niter=20, seed=0) (subsamples 256 x K rows by default)

Times are the fit only (data already in memory); musefm and faiss run --repeats interleaved
rounds (medians, and the median of the per-round ratios). Inertia = sum of squared distances of all N
rows to the nearest centroid, computed by one common function for every implementation.

Run: tools/setup.sh --tools && cmake --build build --target bench_kmeans &&
     .venv/bin/python benchmarks/compare_kmeans.py [--rows 1000000] [--k 500] [--threads 2]
"""
import argparse
import json
import statistics
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_rows(n, d, seed=0, components=1000):
    import numpy as np
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 3, (components, d)).astype(np.float32)
    scales = rng.uniform(0.5, 1.5, (components, d)).astype(np.float32)
    weights = rng.dirichlet(np.ones(components))
    which = rng.choice(components, n, p=weights)
    return (means[which] + rng.standard_normal((n, d), dtype=np.float32) * scales[which]).astype(
        np.float32)


def inertia(x, c):
    import torch
    xt, ct = torch.from_numpy(x), torch.from_numpy(c.astype("float32"))
    cn = (ct * ct).sum(1)
    total = 0.0
    for a in range(0, len(xt), 65536):
        xs = xt[a:a + 65536]
        d = torch.addmm(cn[None], xs, ct.T, alpha=-2).min(1).values + (xs * xs).sum(1)
        total += d.clamp_min(0).double().sum().item()
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=39)
    ap.add_argument("--k", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip", nargs="*", default=[], help="implementations to leave out")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved musefm / faiss rounds")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import numpy as np
    import sklearn
    import torch
    from sklearn.cluster import MiniBatchKMeans
    from threadpoolctl import threadpool_limits
    torch.set_num_threads(args.threads)

    x = make_rows(args.rows, args.dim)
    results = {}
    # musefm and faiss, the two fast ones, in interleaved rounds (--repeats): the ratio of
    # their medians is robust to a shared machine's load; each model is the last round's.
    times = {"musefm": [], "faiss": []}

    def run_faiss():
        import faiss
        faiss.omp_set_num_threads(args.threads)
        t0 = time.perf_counter()
        fk = faiss.Kmeans(args.dim, args.k, niter=20, seed=0)
        fk.train(x)
        times["faiss"].append(time.perf_counter() - t0)
        results["faiss"] = (statistics.median(times["faiss"]), fk.centroids,
                            f"faiss {faiss.__version__}, niter 20, "
                            f"{min(args.rows, 256 * args.k)} rows sampled")

    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "x.npy"), x)
        for rep in range(args.repeats):
            if "musefm" not in args.skip:
                out = subprocess.run([os.path.join(args.build, "benchmarks", "bench_kmeans"),
                                      os.path.join(tmp, "x.npy"), str(args.k),
                                      os.path.join(tmp, "c.npy"), str(args.threads)],
                                     check=True, capture_output=True, text=True)
                r = json.loads(out.stdout)
                times["musefm"].append(r["fit_s"])
                results["musefm"] = (statistics.median(times["musefm"]),
                                     np.load(os.path.join(tmp, "c.npy")),
                                     f"{r['sample_iterations']} sample iterations, "
                                     f"{r['minibatch_steps']} mini-batch steps, "
                                     f"{r['refine_iterations']} refinement iterations")
            if "faiss" not in args.skip:
                try:
                    run_faiss()
                except ImportError:
                    print("faiss not installed: skipped", flush=True)
                    args.skip.append("faiss")
            print(f"round {rep + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()
                                                  if v), flush=True)
    sk = {
        "sklearn-fairseq": dict(init="k-means++", max_iter=100, batch_size=10000, tol=0.0,
                                max_no_improvement=100, n_init=20, reassignment_ratio=0.0,
                                init_size=None, compute_labels=False),
        "sklearn-default": dict(),
    }
    for name, kw in sk.items():
        if name in args.skip:
            continue
        with threadpool_limits(args.threads):
            t0 = time.perf_counter()
            km = MiniBatchKMeans(n_clusters=args.k, random_state=0, **kw).fit(x)
            s = time.perf_counter() - t0
        results[name] = (s, km.cluster_centers_, f"{km.n_steps_} steps, {km.n_iter_} epochs")
        print(f"{name}: {s:.1f} s", flush=True)
    ref_name = "sklearn-fairseq" if "sklearn-fairseq" in results else next(iter(results))
    ref_s, ref_c, _ = results[ref_name]
    ref_inertia = inertia(x, ref_c)
    print(f"\nk-means: {args.rows:,} x {args.dim} rows (seeded Gaussian mixture), K = {args.k}, "
          f"{args.threads} threads; scikit-learn {sklearn.__version__}, torch {torch.__version__}\n")
    print(f"| implementation | fit s | speed-up vs {ref_name} | inertia | vs {ref_name} | notes |")
    print("|---|---|---|---|---|---|")
    for name, (s, c, note) in results.items():
        i = inertia(x, c)
        print(f"| {name} | {s:.1f} | {ref_s / s:.2f}x | {i:.6g} | {100 * (i / ref_inertia - 1):+.2f} % "
              f"| {note} |")
    if times["musefm"] and times["faiss"]:
        ratios = [f / m for m, f in zip(times["musefm"], times["faiss"])]
        print(f"\nmusefm vs faiss, {args.repeats} interleaved rounds: median speed-up "
              f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})")
    print(f"\nCommand: .venv/bin/python benchmarks/compare_kmeans.py {' '.join(sys.argv[1:])}".rstrip())


if __name__ == "__main__":
    main()
