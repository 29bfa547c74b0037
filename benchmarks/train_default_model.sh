#!/usr/bin/env bash
# Rebuilds the default model (models/musefm-small) from nothing on this machine:
#   corpus -> labels -> pretraining -> [iteration 2] -> export -> probes -> model card.
#   benchmarks/train_default_model.sh WORK_DIR   (about 35 min of training on 2 cores, 3,000 updates;
#                                                  about 1.5 h in all with corpus, labels and probes)
# Environment:
#   MAX_SECONDS=N  train at most N s per call (the run resumes exactly on the next call; the
#                  script stops after training until the run reaches its max_steps)
#   ITER2=1        HuBERT's iteration 2: k-means (K = 100) of hidden state LAYER (default 3) of
#                  the iteration-1 model replaces the MFCC target, and a fresh model is trained
#   INSTALL=1      copy the result to models/musefm-small (with checksums.json, MODEL_CARD.md)
#   SEEDS=3        MLP probe seeds; PROBE=0 skips the probe suite
#   KEEP_LAST=N    keep the last N checkpoints of each run (default 2; 12 keeps every one of
#                  iteration 1, for a score-vs-updates curve)
# Every step is resumable: the corpus, label sets, runs, exports and probe results are kept.
set -euo pipefail
work="${1:?usage: train_default_model.sh WORK_DIR}"
root="$(cd "$(dirname "$0")/.." && pwd)"
musefm="${MUSEFM:-$root/build/src/cli/musefm}"
py="$root/.venv/bin/python"
name=musefm-small
recipe="$root/configs/pretrain/$name.json"
layer="${LAYER:-3}"
mkdir -p "$work"
if [[ ! -x "$musefm" ]]; then
  "$root/tools/setup.sh" --tools
  cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$root/build" -j "$(nproc)" --target musefm_cli
fi
"$py" -c "import music21" 2>/dev/null || "$root/tools/setup.sh" --tools

# 1. Corpus: Debian music packages + FluidSynth renders of the music21 corpus (FluidR3 only).
corpus="$work/corpus"
[[ -s "$corpus/train.tsv" ]] || "$py" "$root/tools/make_pretrain_corpus.py" --out "$corpus" \
  --renders 200 --max-render-s 90

# 2. Targets: k-means of HuBERT MFCC (timbre) and of CQT pitch-class profiles (harmony), 100 Hz.
label() {  # teacher, K, label name
  local km="$corpus/kmeans$([[ $3 == km ]] || echo "_$3").safetensors"
  [[ -s "$corpus/train.$3" ]] || "$musefm" teach --manifest "$corpus/train.tsv" --teacher "$1" \
    --k "$2" --percent 0.1 --max-frames 1000 --out "$corpus" --label-name "$3"
  [[ -s "$corpus/valid.$3" ]] || "$musefm" teach --manifest "$corpus/valid.tsv" --teacher "$1" \
    --kmeans "$km" --out "$corpus" --label-name "$3"
}
label kmeans-mfcc 100 km
label kmeans-chroma 64 chroma

# 3. Iteration 1.
train() {  # run name, extra pretrain args...
  local run="$work/runs/$1"
  shift
  "$musefm" pretrain --config "$recipe" --data "$corpus" --out "$run" \
    --set "run.keep_last=${KEEP_LAST:-2}" ${MAX_SECONDS:+--max-seconds "$MAX_SECONDS"} "$@"
  local last
  last="$(grep -o '"step":[0-9]*' "$run/train.jsonl" | tail -1 | cut -d: -f2)"
  local want
  want="$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["optim"]["max_steps"])' "$run/config.json")"
  if [[ "$last" -lt "$want" ]]; then
    echo "train_default_model: $run stopped at update $last of $want (MAX_SECONDS); rerun to resume"
    exit 0
  fi
}
train iter1
final=iter1
if [[ "${ITER2:-0}" == 1 ]]; then
  # 4. Iteration 2: cluster a middle layer of the iteration-1 model, train a fresh model on it.
  [[ -s "$work/models/iter1/model.safetensors" ]] || "$musefm" export "$work/runs/iter1" --out "$work/models/iter1"
  [[ -s "$corpus/train.layer" ]] || "$musefm" teach --manifest "$corpus/train.tsv" \
    --teacher kmeans-layer --model "$work/models/iter1" --layer "$layer" --k 100 --percent 0.1 \
    --max-frames 1000 --out "$corpus" --label-name layer
  [[ -s "$corpus/valid.layer" ]] || "$musefm" teach --manifest "$corpus/valid.tsv" \
    --teacher kmeans-layer --model "$work/models/iter1" --layer "$layer" \
    --kmeans "$corpus/kmeans_layer.safetensors" --out "$corpus" --label-name layer
  train iter2 --set 'data.labels=["layer","chroma"]'
  final=iter2
fi

# 5. Export the model and its untrained twin (same architecture, one update at lr 1e-12).
# (re-exported when the final run changed, e.g. a rerun with ITER2=1)
if [[ ! -s "$work/models/$name/model.safetensors" || "$(cat "$work/models/$name.from" 2>/dev/null)" != "$final" ]]; then
  rm -rf "$work/models/$name"
  "$musefm" export "$work/runs/$final" --out "$work/models/$name"
  echo "$final" >"$work/models/$name.from"
fi
if [[ ! -s "$work/models/$name-untrained/model.safetensors" ]]; then
  "$musefm" pretrain --config "$recipe" --data "$corpus" --out "$work/runs/untrained" \
    --set 'optim.lr=1e-12' --max-steps 1 --quiet
  "$musefm" export "$work/runs/untrained" --out "$work/models/$name-untrained"
fi

# 6. The probe suite: this model, its twin, MFCC and chroma (the README / RESULTS table).
if [[ "${PROBE:-1}" == 1 ]]; then
  "$py" "$root/tools/make_probe_data.py" --out "$work/probe_data" --seed 0
  status=0
  "$musefm" probe --model "$work/models/$name" --model "$work/models/$name-untrained" \
    --model mfcc --model chroma --suite "$root/configs/probe/suite.json" \
    --data "$work/probe_data" --out "$work/probe" --cache "$work/probe_cache" \
    --seeds "${SEEDS:-3}" || status=$?
  [[ $status == 0 ]] || { echo "train_default_model: probe failed ($status)" >&2; exit "$status"; }
  runs=(--run "$work/runs/iter1")
  [[ "$final" == iter2 ]] && runs+=(--run "$work/runs/iter2")
  "$py" "$root/tools/write_model_card.py" --model "$work/models/$name" --model-name "$name" \
    --twin "$name-untrained" --recipe "configs/pretrain/$name.json" --corpus "$corpus" \
    "${runs[@]}" --probe "$work/probe/report.json" ${NOTES:+--notes "$NOTES"}
fi

# 7. Ship it.
if [[ "${INSTALL:-0}" == 1 ]]; then
  rm -rf "$root/models/$name.tmp"
  mkdir -p "$root/models"
  cp -r "$work/models/$name" "$root/models/$name.tmp"
  rm -rf "$root/models/$name"
  mv "$root/models/$name.tmp" "$root/models/$name"
  echo "installed $root/models/$name"
fi
