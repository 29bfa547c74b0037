#!/usr/bin/env bash
# The probe results of benchmarks/RESULTS.md and the README: the generated suite
# (tools/make_probe_data.py, seed 0, default sizes: 3,480 clips, 5.3 h) probed with
#   tiny-pretrained  configs/pretrain/tiny-cpu.json trained for STEPS (3000) updates on the demo
#                    corpus (singularity-music, 13 tracks; k-means MFCC labels, K = 50)
#   tiny-untrained   the same architecture after one update at lr 1e-12 (its initialisation)
#   mfcc, chroma     the classic baselines
# with the linear probe and MARBLE's MLP (SEEDS = 3 seeds) on every layer and the weighted sum;
# writes OUT/probe/report.{md,json}, OUT/probe/layers.png and prints the best-layer table.
#   benchmarks/probe_suite.sh OUT [MODEL_DIR ...]     (model dirs given: used instead of the tiny pair)
# Every step is resumable: existing data, models, cached features and finished probe runs are kept.
set -euo pipefail
out="${1:?usage: probe_suite.sh OUT [MODEL_DIR ...]}"
shift
root="$(cd "$(dirname "$0")/.." && pwd)"
musefm="${MUSEFM:-$root/build/src/cli/musefm}"
py="$root/.venv/bin/python"
steps="${STEPS:-3000}"
seeds="${SEEDS:-3}"
mkdir -p "$out"

"$py" "$root/tools/make_probe_data.py" --out "$out/data" --seed 0

# The demo corpus with its k-means MFCC labels (what both tiny models are started on).
corpus="$out/corpus"
labelled_corpus() {
  "$root/tools/fetch_demo_corpus.sh" "$corpus" 0
  [[ -s "$corpus/train.km" ]] || "$musefm" teach --manifest "$corpus/train.tsv" \
    --teacher kmeans-mfcc --k 50 --percent 1 --out "$corpus"
  [[ -s "$corpus/valid.km" ]] || "$musefm" teach --manifest "$corpus/valid.tsv" \
    --teacher kmeans-mfcc --kmeans "$corpus/kmeans.safetensors" --out "$corpus"
}
# tiny_model NAME PRETRAIN_ARGS...: pretrain (resumes) and export unless exported already.
tiny_model() {
  local name="$1"
  shift
  [[ -s "$out/models/$name/model.safetensors" ]] && return 0
  labelled_corpus
  "$musefm" pretrain --config "$root/configs/pretrain/tiny-cpu.json" --data "$corpus" \
    --out "$out/runs/$name" "$@"
  "$musefm" export "$out/runs/$name" --out "$out/models/$name"
}

models=("$@")
if [[ ${#models[@]} -eq 0 ]]; then
  tiny_model tiny-pretrained --set data.valid_split=\"valid\" --max-steps "$steps"
  tiny_model tiny-untrained --set optim.lr=1e-12 --max-steps 1
  models=("$out/models/tiny-pretrained" "$out/models/tiny-untrained")
fi

args=()
for m in "${models[@]}" mfcc chroma; do args+=(--model "$m"); done
status=0
"$musefm" probe "${args[@]}" --suite "$root/configs/probe/suite.json" --data "$out/data" \
  --out "$out/probe" --cache "$out/cache" --seeds "$seeds" || status=$?
if "$py" -c "import matplotlib" 2>/dev/null; then
  "$py" "$root/tools/plot_probe.py" "$out/probe/report.json" --out "$out/probe/layers.png"
  echo "layer plot: $out/probe/layers.png"
fi
exit "$status"
