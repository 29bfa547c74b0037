#!/usr/bin/env python3
"""Peak memory of `musefm extract` on long recordings, and of the transformers peer.

Builds MERT-v1-95M with random weights in transformers (once; cached under --model-dir as
hf/ from save_pretrained and musefm/ converted by tools/convert_checkpoint.py), makes long
real-music inputs by tiling the fixture recording (tests/fixtures/real_music.ogg, 48 kHz
stereo, resampled once to 44.1 kHz with sox) to each length as 44.1 kHz stereo 16-bit FLAC,
then runs, one process at a time,

  musefm extract FILE --model DIR --out-dir OUT --threads T              (a) --pool mean
  musefm extract FILE --model DIR --out-dir OUT --threads T \\
                 --pool none --layers -1                                 (b) frames to .npy

for every --minutes value. Peak RSS is the process's maximum resident set size (ru_maxrss
from wait4, taken by a small launcher process so that this script's own memory cannot leak
into the figure; it counts the mapped weights file too; floor ~11 MB, the launcher's). VmRSS
and VmHWM are also polled every 0.25 s, to cross-check and to show whether resident memory
climbs during a run. Wall time is the whole process
(model load, decoding, resampling, encoding, writing). RTF = wall time / audio duration.
Each output is checked: sidecar frames and shape against floor((N - 400) / 320) + 1 for the
N samples at 24 kHz, the .npy header, finite values, no all-zero frame, and the mean of the
(b) frames against row -1 of the (a) mean.

The peer (unless --skip-peer): transformers HubertModel with the same weights, eager and sdpa
attention, fp32, torch.no_grad, the whole file in one pass as the MERT model card does it
(soundfile decode, mono mix, torchaudio resample to 24 kHz, model(x, output_hidden_states=True),
mean over time), in a fresh subprocess per run, for --peer-minutes (default 0.5, 1, 2; plus 4
for an attention implementation whose fitted 4-minute peak is below --peer-limit-gb). Longer
durations are extrapolated from a least-squares fit peak = a + b*m + c*m^2 (b, c >= 0:
attention memory grows with the square of the length) and marked "extrapolated".

Run: .venv/bin/python benchmarks/peak_rss.py [--minutes 1 10 60] [--skip-peer]
     [--model-dir DIR] [--work-dir DIR] [--threads 2]
"""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATE_IN, RATE_MODEL, HOP, RECEPTIVE = 44100, 24000, 320, 400


# ---- model and inputs ------------------------------------------------------------------------

def make_model(model_dir):
    """model_dir/hf (transformers) and model_dir/musefm (converted); reused when present."""
    hf_dir, mf_dir = os.path.join(model_dir, "hf"), os.path.join(model_dir, "musefm")
    if all(os.path.exists(os.path.join(d, f)) for d in (hf_dir, mf_dir)
           for f in ("config.json", "model.safetensors")):
        return hf_dir, mf_dir
    import torch
    import transformers
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    from compare_extract import ARCH, COMMON
    from musefm_convert.hf_mert import convert_hf_mert
    print(f"building random-weight MERT-v1-95M in {model_dir}", flush=True)
    torch.manual_seed(0)
    model = transformers.HubertModel(transformers.HubertConfig(**COMMON, **ARCH["95m"]))
    model.save_pretrained(hf_dir)
    convert_hf_mert(hf_dir, mf_dir)
    return hf_dir, mf_dir


def base_clip(work):
    """The fixture recording at 44.1 kHz stereo (float32 [n, 2]), resampled once."""
    import soundfile as sf
    path = os.path.join(work, "base_44k.wav")
    if not os.path.exists(path):
        src = os.path.join(ROOT, "tests", "fixtures", "real_music.ogg")
        if shutil.which("sox"):
            subprocess.run(["sox", "-q", src, "-r", str(RATE_IN), "-b", "16", path + ".tmp.wav"],
                           check=True)
            os.replace(path + ".tmp.wav", path)
        else:  # soxr (a librosa dependency) when the sox CLI is missing
            import soxr
            y, sr = sf.read(src, dtype="float32")
            sf.write(path, soxr.resample(y, sr, RATE_IN), RATE_IN, subtype="PCM_16")
    y, sr = sf.read(path, dtype="float32", always_2d=True)
    assert sr == RATE_IN and y.shape[1] == 2, (sr, y.shape)
    return y


def make_input(work, minutes):
    """work/music_<m>min.flac: 44.1 kHz stereo 16-bit FLAC, the base clip tiled."""
    import soundfile as sf
    path = os.path.join(work, f"music_{minutes:g}min.flac")
    frames = int(round(minutes * 60 * RATE_IN))
    if os.path.exists(path) and sf.info(path).frames == frames:
        return path
    y = base_clip(work)
    tmp = path + ".tmp.flac"
    with sf.SoundFile(tmp, "w", RATE_IN, 2, subtype="PCM_16", format="FLAC") as f:
        left = frames
        block = np.tile(y, (max(1, (RATE_IN * 60) // len(y)), 1))
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
    os.replace(tmp, path)
    return path


def model_samples(flac):
    """Samples at 24 kHz musefm decodes from `flac` (resampled_length: ceil)."""
    import soundfile as sf
    info = sf.info(flac)
    return (info.frames * RATE_MODEL + info.samplerate - 1) // info.samplerate


def expected_frames(n):
    return (n - RECEPTIVE) // HOP + 1


# ---- measuring a child process ---------------------------------------------------------------

# Linux keeps a process's peak RSS across exec, and a child made by fork/vfork starts with its
# parent's high-water mark: ru_maxrss of a child of this (large) script would report at least
# this script's own peak. So every measured command is started by a small launcher process
# (python -I -S, ~10 MB), which reports its child's ru_maxrss from wait4.
LAUNCHER = r"""
import json, os, subprocess, sys
p = subprocess.Popen(sys.argv[2:])
with open(sys.argv[1] + ".pid", "w") as f:
    f.write(str(p.pid))
_, status, ru = os.wait4(p.pid, 0)
p.returncode = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as f:
    json.dump(dict(maxrss_kb=ru.ru_maxrss, cpu_s=ru.ru_utime + ru.ru_stime, rc=p.returncode), f)
"""


def proc_status_mb(pid):
    """(VmRSS, VmHWM) of pid in MB, or None once it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line[:5]] = int(line.split()[1]) / 1024
    except OSError:
        return None
    return (out["VmRSS"], out["VmHWM"]) if len(out) == 2 else None


def measure(cmd, log_path):
    """Runs cmd through the launcher; returns peak RSS MB (ru_maxrss), the last polled VmHWM,
    wall s, CPU s, the sampled VmRSS series [(t, MB)], exit status and stdout."""
    result = log_path + ".rusage.json"
    for f in (result, result + ".pid"):
        if os.path.exists(f):
            os.remove(f)
    t0 = time.perf_counter()
    with open(log_path, "w") as log, open(log_path + ".out", "w+") as out:
        p = subprocess.Popen([sys.executable, "-I", "-S", "-c", LAUNCHER, result] + cmd,
                             stdout=out, stderr=log, text=True)
        samples, child, hwm = [], None, 0.0
        while p.poll() is None:
            if child is None and os.path.exists(result + ".pid"):
                with open(result + ".pid") as f:
                    text = f.read().strip()
                child = int(text) if text else None
            st = proc_status_mb(child) if child else None
            if st:
                samples.append((time.perf_counter() - t0, st[0]))
                hwm = max(hwm, st[1])
            time.sleep(0.25)
        wall = time.perf_counter() - t0
        out.seek(0)
        text = out.read()
    with open(result) as f:
        ru = json.load(f)
    with open(log_path + ".rss.json", "w") as f:  # sampled VmRSS: [[seconds, MB], ...]
        json.dump([[round(t, 2), round(mb, 1)] for t, mb in samples], f)
    return dict(peak_mb=ru["maxrss_kb"] / 1024, hwm_polled_mb=hwm, wall_s=wall,
                cpu_s=ru["cpu_s"], rss_series=samples, rc=ru["rc"], stdout=text)


def quarters(series, wall):
    """Max sampled VmRSS (MB) in each quarter of the run."""
    q = [0.0] * 4
    for t, mb in series:
        i = min(3, int(4 * t / wall))
        q[i] = max(q[i], mb)
    return q


# ---- musefm ----------------------------------------------------------------------------------

def check_outputs(out_dir, flac, mode):
    """Validates <stem>.json and <stem>.npy; returns (frames, a summary line, the array)."""
    stem = os.path.splitext(os.path.basename(flac))[0]
    with open(os.path.join(out_dir, stem + ".json")) as f:
        side = json.load(f)
    n = model_samples(flac)
    t = expected_frames(n)
    problems = []
    if side["frames"] != t:
        problems.append(f"sidecar frames {side['frames']} != floor(({n}-400)/320)+1 = {t}")
    want = [13, 768] if mode == "mean" else [1, t, 768]
    if side["shape"] != want:
        problems.append(f"sidecar shape {side['shape']} != {want}")
    arr = np.load(os.path.join(out_dir, stem + ".npy"), mmap_mode="r")
    if list(arr.shape) != want or arr.dtype != np.float32:
        problems.append(f".npy {arr.dtype}{list(arr.shape)} != float32{want}")
    # finite everywhere, and no frame left at the writer's zero fill
    bad_rows = nonfinite = 0
    mean64 = np.zeros(arr.shape[-1])
    flat = arr.reshape(-1, arr.shape[-1])
    for i in range(0, flat.shape[0], 65536):
        blk = np.asarray(flat[i:i + 65536], dtype=np.float64)
        nonfinite += int((~np.isfinite(blk)).sum())
        bad_rows += int((np.abs(blk).max(axis=1) == 0).sum())
        mean64 += blk.sum(axis=0)
    if nonfinite:
        problems.append(f"{nonfinite} non-finite values")
    if bad_rows:
        problems.append(f"{bad_rows} all-zero rows")
    if problems:
        raise SystemExit(f"{out_dir}: " + "; ".join(problems))
    summary = (f"frames {side['frames']} (N = {n} samples at 24 kHz), shape {side['shape']}, "
               f"finite, no all-zero row")
    pooled = None if mode == "mean" else mean64 / flat.shape[0]
    return side["frames"], summary, (np.asarray(arr[-1], dtype=np.float64) if mode == "mean"
                                     else pooled)


def build_id(binary):
    """The binary's and its library's modification times and the checkout's commit: the build
    a figure belongs to (a rebuild in the middle of a run is reported)."""
    lib = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(binary))), "libmusefm.so")
    stamps = [time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(os.path.getmtime(f)))
              for f in (binary, lib) if os.path.exists(f)]
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        head = "?"
    return f"binary {' / lib '.join(stamps)} UTC, checkout {head or '?'}"


def run_musefm(binary, model, flac, out_dir, mode, threads, logs, precision="fp32"):
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    before = build_id(binary)
    cmd = [binary, "extract", flac, "--model", model, "--out-dir", out_dir,
           "--threads", str(threads)]
    if mode == "none":
        cmd += ["--pool", "none", "--layers", "-1"]
    if precision != "fp32":
        cmd += ["--precision", precision]
    r = measure(cmd, os.path.join(logs, f"{os.path.basename(out_dir)}.log"))
    r["cmd"] = cmd
    r["build"] = before
    after = build_id(binary)
    if after.split(", checkout")[0] != before.split(", checkout")[0]:
        r["build"] += f" — REBUILT during the run (now {after})"
    if r["rc"] != 0:
        with open(os.path.join(logs, f"{os.path.basename(out_dir)}.log")) as f:
            tail = f.read()[-2000:]
        raise SystemExit(f"musefm failed (exit {r['rc']}): {shlex.join(cmd)}\n{tail}")
    return r


# ---- peer ------------------------------------------------------------------------------------

def peer_child(impl, flac, hf_dir, threads):
    """Runs in its own process: the model card's way, whole file at once. Prints one JSON line."""
    def hwm():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    import soundfile as sf
    import torch
    import transformers
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    model = transformers.HubertModel.from_pretrained(hf_dir, attn_implementation=impl).eval()
    after_load = hwm()
    y, sr = sf.read(flac, dtype="float32", always_2d=True)
    x = torch.from_numpy(y.mean(axis=1))
    try:
        import torchaudio.functional as AF
        x = AF.resample(x, sr, RATE_MODEL)
    except ImportError:
        import soxr
        x = torch.from_numpy(soxr.resample(x.numpy(), sr, RATE_MODEL))
    x = x.unsqueeze(0)
    del y
    t1 = time.perf_counter()
    with torch.no_grad():
        out = model(x, output_hidden_states=True)
        emb = torch.stack(out.hidden_states).squeeze(1).mean(-2)  # [13, 768]
    t2 = time.perf_counter()
    print(json.dumps(dict(frames=out.last_hidden_state.shape[1], shape=list(emb.shape),
                          finite=bool(torch.isfinite(emb).all()), after_load_mb=after_load,
                          hwm_mb=hwm(),
                          forward_s=t2 - t1, total_s=t2 - t0)))


def fit(points):
    """Least squares peak = a + b m + c m^2 with b, c >= 0 (the best feasible of the full fit
    and the fits without b or without c)."""
    m = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    best = None
    for terms in ((1, 2), (2,), (1,)):
        if len(points) < len(terms) + 1:
            continue
        cols = [np.ones_like(m)] + [m ** k for k in terms]
        sol = np.linalg.lstsq(np.stack(cols, 1), y, rcond=None)[0]
        coef = [sol[0], 0.0, 0.0]
        for k, v in zip(terms, sol[1:]):
            coef[k] = v
        if min(coef[1:]) < 0:
            continue
        err = float(((np.stack(cols, 1) @ sol - y) ** 2).sum())
        if best is None or err < best[0] - 1e-9:
            best = (err, tuple(coef))
    return best[1] if best else (float(y.mean()), 0.0, 0.0)


def predict(coef, m):
    a, b, c = coef
    return a + b * m + c * m * m


def mem_available_mb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return 0.0


# ---- main ------------------------------------------------------------------------------------

def fmt_mb(mb):
    return f"{mb:,.0f}" if mb < 1e6 else f"{mb:.2e}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60],
                    help="input lengths for musefm (default 1 10 60)")
    ap.add_argument("--peer-minutes", type=float, nargs="+", default=[0.5, 1, 2],
                    help="measured peer lengths (default 0.5 1 2; 4 is added per attention\n"
                         "implementation when its fitted peak is below --peer-limit-gb)")
    ap.add_argument("--peer-limit-gb", type=float, default=12.0)
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--model-dir", help="cache of the random-weight model (hf/ and musefm/);\n"
                    "default WORK_DIR/model")
    ap.add_argument("--work-dir", default=os.path.join(tempfile.gettempdir(), "musefm-peak-rss"),
                    help="inputs, outputs and logs (default %(default)s)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", "bf16", "int8"],
                    help="musefm --precision values, each measured (default fp32)")
    ap.add_argument("--modes", nargs="+", default=["mean", "none"], choices=["mean", "none"],
                    help="musefm --pool modes measured (default mean none)")
    ap.add_argument("--musefm", default=os.path.join(ROOT, "build", "src", "cli", "musefm"))
    ap.add_argument("--peer-child", nargs=3, metavar=("IMPL", "FLAC", "HF_DIR"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer_child:
        peer_child(*args.peer_child, args.threads)
        return

    work = os.path.abspath(args.work_dir)
    logs = os.path.join(work, "logs")
    os.makedirs(logs, exist_ok=True)
    hf_dir, mf_dir = make_model(os.path.abspath(args.model_dir or os.path.join(work, "model")))
    print(f"model: {mf_dir} (musefm), {hf_dir} (transformers)", flush=True)

    rows, notes = [], []
    pooled, builds = {}, set()
    for minutes in args.minutes:
        flac = make_input(work, minutes)
        for precision, mode in [(p, m) for p in args.precisions for m in args.modes]:
            tag = "" if precision == "fp32" else f"_{precision}"
            out_dir = os.path.join(work, f"out_{minutes:g}min_{mode}{tag}")
            r = run_musefm(args.musefm, mf_dir, flac, out_dir, mode, args.threads, logs, precision)
            frames, summary, vec = check_outputs(out_dir, flac, mode)
            if precision == "fp32":
                pooled[(minutes, mode)] = vec
            q = quarters(r["rss_series"], r["wall_s"])
            label = "musefm --pool mean" if mode == "mean" else "musefm --pool none --layers -1"
            if precision != "fp32":
                label += f" --precision {precision}"
            rows.append(dict(minutes=minutes, what=label, peak_mb=r["peak_mb"], wall_s=r["wall_s"],
                             rtf=r["wall_s"] / (minutes * 60), kind="measured",
                             extra=f"CPU {r['cpu_s']:.0f} s; polled VmHWM {r['hwm_polled_mb']:.0f} "
                                   f"MB; VmRSS max by quarter of the run "
                                   f"{'/'.join(f'{x:.0f}' for x in q)} MB, median "
                                   f"{np.median([x[1] for x in r['rss_series']]):.0f} MB"))
            print(f"{minutes:g} min {label}: peak {r['peak_mb']:.0f} MB, {r['wall_s']:.1f} s; "
                  f"{summary}; {r['build']}", flush=True)
            builds.add(r["build"])
        if (minutes, "mean") not in pooled or (minutes, "none") not in pooled:
            continue
        a, b = pooled[(minutes, "mean")], pooled[(minutes, "none")]
        d = np.abs(a - b).max() / np.abs(a).max()
        notes.append(f"{minutes:g} min: mean of the --pool none frames vs row -1 of --pool mean: "
                     f"max|d|/max|ref| = {d:.1e}")
        if d > 1e-6:  # both sum the same frames in float64: expect ~1e-7
            notes[-1] += " — MISMATCH: the two runs did not produce the same frames"
            print(notes[-1], flush=True)

    fits = {}
    if not args.skip_peer:
        for impl in ("eager", "sdpa"):
            points = []
            todo = sorted(args.peer_minutes)
            while todo:
                minutes = todo.pop(0)
                flac = make_input(work, minutes)
                cmd = [sys.executable, os.path.abspath(__file__), "--threads", str(args.threads),
                       "--peer-child", impl, flac, hf_dir]
                r = measure(cmd, os.path.join(logs, f"peer_{impl}_{minutes:g}min.log"))
                if r["rc"] != 0:
                    raise SystemExit(f"peer {impl} {minutes:g} min failed (exit {r['rc']}), "
                                     f"see {logs}")
                info = json.loads(r["stdout"].strip().splitlines()[-1])
                want = expected_frames(model_samples(flac))
                if info["frames"] != want or not info["finite"]:
                    raise SystemExit(f"peer {impl} {minutes:g} min: {info} (expected {want} frames)")
                points.append((minutes, r["peak_mb"]))
                rows.append(dict(minutes=minutes, what=f"transformers HubertModel ({impl})",
                                 peak_mb=r["peak_mb"], wall_s=r["wall_s"],
                                 rtf=r["wall_s"] / (minutes * 60), kind="measured",
                                 extra=f"after model load {info['after_load_mb']:.0f} MB; "
                                       f"own VmHWM at exit {info['hwm_mb']:.0f} MB; "
                                       f"forward {info['forward_s']:.1f} s"))
                print(f"{minutes:g} min peer {impl}: peak {r['peak_mb']:.0f} MB, "
                      f"{r['wall_s']:.1f} s, {info['frames']} frames", flush=True)
                if not todo and 4 not in [p[0] for p in points] and len(points) >= 2:
                    guess = predict(fit(points), 4)
                    limit = min(args.peer_limit_gb * 1024, mem_available_mb() - 4096)
                    if guess < limit:
                        todo.append(4.0)
                    else:
                        notes.append(f"peer {impl}: 4 min not run (fitted peak {guess:,.0f} MB "
                                     f"> limit {limit:,.0f} MB)")
            coef = fits[impl] = fit(points)
            notes.append(f"peer {impl} fit over measured {[p[0] for p in points]} min: peak MB = "
                         f"{coef[0]:.0f} + {coef[1]:.1f} m + {coef[2]:.2f} m^2")
            for minutes in args.minutes:
                if minutes > max(p[0] for p in points):
                    rows.append(dict(minutes=minutes, what=f"transformers HubertModel ({impl})",
                                     peak_mb=predict(coef, minutes), wall_s=None, rtf=None,
                                     kind="extrapolated", extra="fit above"))

    rows.sort(key=lambda r: (r["minutes"], r["what"]))
    import torch
    import transformers
    print("\n## Peak RSS of long-file extraction\n")
    with open(os.path.join(mf_dir, "config.json")) as f:
        attention = json.load(f).get("attention", "?")
    print(f"MERT-v1-95M, random weights, musefm attention \"{attention}\"; input: tests/fixtures/real_music.ogg tiled, 44.1 kHz "
          f"stereo 16-bit FLAC (decoded, mixed to mono and resampled to 24 kHz by each side); "
          f"{'/'.join(args.precisions)} CPU, {args.threads} threads; torch {torch.__version__}, transformers "
          f"{transformers.__version__}. Peak RSS = ru_maxrss of the process; wall = whole "
          f"process; RTF = wall / audio duration.\n")
    print("| minutes | what | peak RSS MB | wall s | RTF | measured? | notes |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        wall = "–" if r["wall_s"] is None else f"{r['wall_s']:.1f}"
        rtf = "–" if r["rtf"] is None else f"{r['rtf']:.3f}"
        print(f"| {r['minutes']:g} | {r['what']} | {fmt_mb(r['peak_mb'])} | {wall} | {rtf} | "
              f"{r['kind']} | {r['extra']} |")
    print()
    for n in notes:
        print(f"- {n}")
    for b in sorted(builds):
        print(f"- musefm build: {b}")

    # targets: 60 min <= 2 GB; growth at most linear
    print()
    for mode in ("mean", "none"):
        pts = sorted((r["minutes"], r["peak_mb"]) for r in rows
                     if r["kind"] == "measured" and r["what"].startswith("musefm")
                     and "--precision" not in r["what"]
                     and ("mean" in r["what"]) == (mode == "mean"))
        if not pts:
            continue
        long_, short = pts[-1], pts[0]
        ok_2gb = long_[1] <= 2048
        ratio, dur = long_[1] / short[1], long_[0] / short[0]
        steps = ", ".join(f"{a[0]:g}->{b[0]:g} min {b[1] - a[1]:+.0f} MB"
                          for a, b in zip(pts, pts[1:]))
        print(f"- --pool {mode}: {long_[0]:g} min peak {long_[1]:.0f} MB "
              f"({'≤' if ok_2gb else '>'} 2 GB target: {'met' if ok_2gb else 'NOT met'}); "
              f"{steps}: peak x{ratio:.2f} for x{dur:g} the duration "
              f"(at most linear: {'yes' if ratio <= dur else 'NO'}; "
              f"{'flat within 10 %' if ratio <= 1.10 else 'grows'})")
    print(f"\nCommand: .venv/bin/python benchmarks/peak_rss.py {shlex.join(sys.argv[1:])}".rstrip())
    example = [r for r in rows if r["what"].startswith("musefm")]
    if example:
        print(f"musefm command per file: {args.musefm} extract FILE --model {mf_dir} "
              f"--out-dir OUT --threads {args.threads} [--pool none --layers -1]")


if __name__ == "__main__":
    main()
