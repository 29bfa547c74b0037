#!/usr/bin/env bash
# The main job on a built-in default: set up, build the CLI, render two real sampled
# instruments with FluidSynth, then decode them and a real recording and write every
# front-end feature (MusicFM mel, HuBERT MFCC, MERT CQT, chroma) to demo_out/, then extract
# embeddings with musefm's default model (models/musefm-small), write pretraining labels,
# pretrain a tiny model on real recorded music (how the default model was made, in miniature),
# export it and extract with it, and probe the default model against the MFCC and chroma
# baselines on small generated tasks.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools/setup.sh
build="${BUILD_DIR:-build}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target musefm_cli
out="${1:-demo_out}"
tests/render_midi.sh "$out/audio" >/dev/null
"$build/src/cli/musefm" demo tests/fixtures/real_music.ogg "$out/audio/piano_a4.wav" \
  "$out/audio/cmajor_chord.wav" --out-dir "$out"
echo
echo "Embeddings with musefm's default model (models/musefm-small: a 6 x 256 MERT-style encoder"
echo "trained on 2 CPU cores, see models/musefm-small/MODEL_CARD.md; not MERT). No --model"
echo "needed; long inputs stream through 30 s windows; --pool none keeps every frame:"
"$build/src/cli/musefm" extract tests/fixtures/real_music.ogg "$out/audio/piano_a4.wav" \
  "$out/audio/cmajor_chord.wav" --out-dir "$out/embeddings/default" --overwrite
echo "(per file: [layers, dims] mean-pooled hidden states + JSON sidecar in $out/embeddings/default)"
echo
echo "What the default model knows: its model card's probe table (the full generated suite, against"
echo "its untrained twin and the MFCC and chroma baselines; benchmarks/RESULTS.md has every probe):"
sed -n '/^## Probe scores/,/^## Rebuilding/{/^## /d;p}' models/musefm-small/MODEL_CARD.md

echo
echo "Pretraining targets: fairseq label sets for a manifest of the same three recordings, from"
echo "k-means on MFCC (K = 8 for this tiny corpus; the HuBERT recipe uses K = 100) and from"
echo "MusicFM's BEST-RQ quantizer (the random quantizer of the tiny MusicFM model), each verified:"
manifest="$out/labels/train.tsv"
mkdir -p "$out/labels"
cp tests/fixtures/real_music.ogg "$out/audio/real_music.ogg"
{
  (cd "$out/audio" && pwd)
  for f in real_music.ogg piano_a4.wav cmajor_chord.wav; do
    frames=$("$build/src/cli/musefm" info "$out/audio/$f" --json |
      python3 -c 'import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(round(d["frames"]*24000/d["sample_rate"]))')
    printf '%s\t%s\n' "$f" "$frames"
  done
} > "$manifest"
"$build/src/cli/musefm" teach --manifest "$manifest" --teacher kmeans-mfcc --k 8 --percent 1 \
  --out "$out/labels" --overwrite
"$build/src/cli/musefm" teach --manifest "$manifest" --teacher bestrq \
  --model tests/fixtures/encoders/musicfm_tiny --out "$out/labels" --overwrite
echo "(labels: $out/labels/train.{km,bestrq_0} + dict.*.txt; the manifest lists sample counts at 24 kHz)"

echo
echo "Pretraining end to end on real recorded music (singularity-music, a Debian package):"
echo "k-means MFCC labels (K = 50) -> a tiny MERT-style model trained by masked prediction on"
echo "the CPU for ${DEMO_STEPS:-600} updates (a few minutes) -> export -> extract."
corpus="$out/corpus"
tools/fetch_demo_corpus.sh "$corpus" "${DEMO_SECONDS:-0}"
"$build/src/cli/musefm" teach --manifest "$corpus/train.tsv" --teacher kmeans-mfcc --k 50 \
  --percent 1 --out "$corpus"
"$build/src/cli/musefm" teach --manifest "$corpus/valid.tsv" --teacher kmeans-mfcc \
  --kmeans "$corpus/kmeans.safetensors" --out "$corpus"
run="$out/runs/tiny"
"$build/src/cli/musefm" pretrain --config configs/pretrain/tiny-cpu.json --data "$corpus" \
  --set data.valid_split=\"valid\" --max-steps "${DEMO_STEPS:-600}" --out "$run"
"$build/src/cli/musefm" export "$run" --out "$out/models/tiny"
"$build/src/cli/musefm" extract tests/fixtures/real_music.ogg --model "$out/models/tiny" \
  --out-dir "$out/embeddings/pretrained_tiny" --overwrite
python3 - "$run/train.jsonl" "$corpus/train.km" "$corpus/valid.km" <<'PY'
import collections, json, sys
log = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
steps = [r for r in log if "accuracy" in r and "valid" not in r]
valid = [r["valid"] for r in log if "valid" in r]
def prior(path):
    c = collections.Counter(open(path).read().split())
    return c.most_common(1)[0][1] / sum(c.values())
mean = lambda rs: sum(r["accuracy"]["km"] for r in rs) / len(rs)
print(f"masked-frame accuracy of the K = 50 MFCC clusters: first 50 updates {mean(steps[:50]):.3f}, "
      f"last 50 updates {mean(steps[-50:]):.3f} (train crops)")
if valid:
    print(f"held-out tracks: {valid[-1]['accuracy']['km']:.3f} at the last validation")
print(f"chance: uniform 1/50 = 0.020; always the most frequent cluster = {prior(sys.argv[2]):.3f} "
      f"(train), {prior(sys.argv[3]):.3f} (held-out)")
PY
if .venv/bin/python -c "import matplotlib" 2>/dev/null; then
  .venv/bin/python tools/plot_training.py "$run/train.jsonl" --smooth 20 --out "$out/runs/tiny_curves.png"
  echo "curves: $out/runs/tiny_curves.png"
fi
echo "(run folder $run: train.jsonl, checkpoints/; rerunning resumes; the model is in $out/models/tiny)"

echo
echo "Probing (MARBLE protocol) on small generated tasks (FluidSynth + the GM soundfont):"
echo "instrument family of single notes, key of chord progressions, beats of drum patterns;"
echo "the default model and the tiny model just trained against the MFCC and chroma baselines,"
echo "every layer, linear probe:"
.venv/bin/python tools/make_probe_data.py --out "$out/probe_data" --small \
  --tasks nsynth_family,key,beat >/dev/null
"$build/src/cli/musefm" probe --model default --model "$out/models/tiny" --model mfcc --model chroma \
  --task "$out/probe_data/nsynth_family" --task "$out/probe_data/key" \
  --task "$out/probe_data/beat" --probe linear --out "$out/probe" --cache "$out/probe_cache"
if .venv/bin/python -c "import matplotlib" 2>/dev/null; then
  .venv/bin/python tools/plot_probe.py "$out/probe/report.json" --out "$out/probe/layers.png"
  echo "score vs layer: $out/probe/layers.png"
fi
echo "(tiny test-size splits: 3/1/1 clips per class; the full suite and its results:"
echo " benchmarks/probe_suite.sh, benchmarks/RESULTS.md)"
