#!/usr/bin/env bash
# Golden check for refactors: runs the demo's deterministic steps with two musefm binaries
# (e.g. one built from the commit before a refactor, one from after) and compares what they
# write: feature and embedding .npy files and label files byte for byte; JSON sidecars, the
# training log and the probe report with the fields that legitimately differ (timings, paths,
# versions, run keys) left out. Exits non-zero and lists the files that differ.
#
#   tools/compare_cli_outputs.sh OLD/src/cli/musefm build/src/cli/musefm [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
[[ $# -ge 2 ]] || { echo "usage: $0 OLD_MUSEFM NEW_MUSEFM [OUT_DIR]" >&2; exit 2; }
old="$(realpath "$1")" new="$(realpath "$2")" out="${3:-/tmp/musefm_golden}"
py="${PYTHON:-.venv/bin/python}"
rm -rf "$out" && mkdir -p "$out/audio"
tests/render_midi.sh "$out/audio" >/dev/null
cp tests/fixtures/real_music.ogg "$out/audio/"
"$py" tools/make_probe_data.py --out "$out/probe_data" --small --tasks key >/dev/null

run_all() {  # $1 = binary, $2 = output folder
  local cli="$1" o="$2" a="$out/audio"
  mkdir -p "$o/labels"
  "$cli" demo "$a/real_music.ogg" "$a/piano_a4.wav" --out-dir "$o/features" >/dev/null
  "$cli" extract "$a/real_music.ogg" "$a/piano_a4.wav" --out-dir "$o/emb_default" --threads 1 \
    >/dev/null
  "$cli" extract "$a/real_music.ogg" --model tests/fixtures/encoders/mert_tiny_postln \
    --layers 0,-1 --pool none --window 2 --hop 1.5 --out-dir "$o/emb_frames" --threads 1 >/dev/null
  printf '%s\n' "$a" > "$o/labels/train.tsv"
  for f in real_music.ogg piano_a4.wav; do
    printf '%s\t%s\n' "$f" "$("$cli" info "$a/$f" --json | "$py" -c \
      'import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(round(d["frames"]*24000/d["sample_rate"]))')"
  done >> "$o/labels/train.tsv"
  "$cli" teach --manifest "$o/labels/train.tsv" --teacher kmeans-mfcc --k 8 --percent 1 \
    --out "$o/labels" --threads 1 >/dev/null 2>&1
  "$cli" teach --manifest "$o/labels/train.tsv" --teacher bestrq \
    --model tests/fixtures/encoders/musicfm_tiny --out "$o/labels" --threads 1 >/dev/null 2>&1
  "$cli" pretrain --config configs/pretrain/tiny-cpu.json --data "$o/labels" --max-steps 6 \
    --set run.checkpoint_every=3 --set data.min_sample_size=24000 \
    --set data.max_sample_size=48000 --threads 1 --quiet --out "$o/run" >/dev/null 2>&1
  "$cli" export "$o/run" --out "$o/model" >/dev/null
  "$cli" probe --model mfcc --model default --task "$out/probe_data/key" --probe linear \
    --cache none --threads 1 --out "$o/probe" >/dev/null 2>&1
}
run_all "$old" "$out/old"
run_all "$new" "$out/new"

"$py" - "$out/old" "$out/new" <<'PY'
import json, pathlib, sys
old, new = map(pathlib.Path, sys.argv[1:])
VOLATILE = {"musefm_version", "time_s", "elapsed_s", "samples_per_s", "tokens_per_s", "run_key",
            "model_key", "path", "dir", "out", "created", "cache", "seconds", "wall_s",
            "manifest_dir", "labels_dir"}
def scrub(x):
    if isinstance(x, dict):
        return {k: scrub(v) for k, v in x.items() if k not in VOLATILE}
    if isinstance(x, list):
        return [scrub(v) for v in x]
    return x
def load_json(p):
    text = p.read_text()
    if p.suffix == ".jsonl":
        return [scrub(json.loads(l)) for l in text.splitlines() if l.strip()]
    return scrub(json.loads(text))
files = sorted(p.relative_to(old) for p in old.rglob("*") if p.is_file())
same, differ, missing = 0, [], []
for rel in files:
    a, b = old / rel, new / rel
    if not b.exists():
        missing.append(str(rel)); continue
    if rel.suffix in (".json", ".jsonl"):
        ok = load_json(a) == load_json(b)
    elif rel.suffix == ".md" or "checkpoints" in rel.parts:
        continue  # report.md holds run keys; checkpoints hold the config text (keys reordered)
    else:
        ok = a.read_bytes() == b.read_bytes()
    (same := same + 1) if ok else differ.append(str(rel))
print(f"compared {same + len(differ)} files: {same} identical, {len(differ)} differ, "
      f"{len(missing)} missing in the new run")
for d in differ: print("  differs:", d)
for m in missing: print("  missing:", m)
sys.exit(1 if differ or missing else 0)
PY
