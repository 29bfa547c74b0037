#!/usr/bin/env bash
# Recipe ablations for the default model (benchmarks/RESULTS.md, "Default model: ablations"):
# the tiny 4 x 128 model (configs/pretrain/tiny-cpu.json) trained for STEPS updates on the
# default model's corpus with one ingredient changed at a time, then probed (linear probe,
# every layer, best layer on valid) on the four clip tasks that separate timbre from tonality
# (pitch, family, key, tempo class) against its untrained twin.
#   benchmarks/ablate_recipe.sh OUT CORPUS PROBE_DATA [VARIANT ...]
# CORPUS holds train.tsv / valid.tsv with the km (MFCC, K = 100) and chroma (K = 64) label sets
# (benchmarks/train_default_model.sh makes both); PROBE_DATA is tools/make_probe_data.py's
# output. Variants (default: all):
#   mfcc-mag     labels km, CQT head on |CQT| (MERT's target): today's recipe on the new corpus
#   mfcc-log     labels km, CQT head on log(1 + |CQT| / 1e-3)
#   mfcc-nocqt   labels km, no CQT head
#   chroma-log   labels km + chroma, log CQT
#   all-log      labels km, log CQT regressed on every frame (objective.cqt_frames = all)
#   chroma-all-log  labels km + chroma, log CQT on every frame
#   untrained    the same architecture after one update at lr 1e-12
# Resumable: finished runs, exports, cached features and probe results are kept. PROBE=0 only
# trains (e.g. two invocations side by side with THREADS=1, then one that probes them all).
set -euo pipefail
out="${1:?usage: ablate_recipe.sh OUT CORPUS PROBE_DATA [VARIANT ...]}"
corpus="${2:?corpus folder}"
data="${3:?probe data folder}"
shift 3
root="$(cd "$(dirname "$0")/.." && pwd)"
musefm="${MUSEFM:-$root/build/src/cli/musefm}"
steps="${STEPS:-1500}"
threads="${THREADS:-2}"
variants=("$@")
[[ ${#variants[@]} -gt 0 ]] || variants=(untrained mfcc-mag mfcc-log chroma-log all-log chroma-all-log)
common=(--set 'data.label_rate=100' --set 'data.valid_split="valid"' --set 'run.valid_every=500')
models=()
for v in "${variants[@]}"; do
  case "$v" in
    mfcc-mag) args=(--set 'data.labels=["km"]' --set 'objective.cqt_target="magnitude"') ;;
    mfcc-log) args=(--set 'data.labels=["km"]' --set 'objective.cqt_target="log"') ;;
    mfcc-nocqt) args=(--set 'data.labels=["km"]' --set 'objective.cqt_weight=0') ;;
    chroma-log) args=(--set 'data.labels=["km","chroma"]' --set 'objective.cqt_target="log"') ;;
    all-log) args=(--set 'data.labels=["km"]' --set 'objective.cqt_target="log"'
      --set 'objective.cqt_frames="all"') ;;
    chroma-all-log) args=(--set 'data.labels=["km","chroma"]' --set 'objective.cqt_target="log"'
      --set 'objective.cqt_frames="all"') ;;
    untrained) args=(--set 'data.labels=["km"]' --set 'optim.lr=1e-12') ;;
    *) echo "ablate_recipe.sh: unknown variant '$v'" >&2; exit 2 ;;
  esac
  n="$steps"
  [[ "$v" == untrained ]] && n=1
  if [[ ! -s "$out/models/$v/model.safetensors" ]]; then
    "$musefm" pretrain --config "$root/configs/pretrain/tiny-cpu.json" --data "$corpus" \
      --out "$out/runs/$v" --max-steps "$n" --threads "$threads" --quiet "${common[@]}" "${args[@]}"
    "$musefm" export "$out/runs/$v" --out "$out/models/$v"
  fi
  models+=(--model "$out/models/$v")
done
[[ "${PROBE:-1}" == 1 ]] || exit 0
"$musefm" probe "${models[@]}" --task "$data/nsynth_pitch" --task "$data/nsynth_family" \
  --task "$data/key" --task "$data/tempo_class" --probe linear --threads "$threads" \
  --out "$out/probe" --cache "$out/cache"
