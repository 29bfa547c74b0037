#!/usr/bin/env bash
# Test set-up: renders tests/fixtures/midi/*.mid with FluidSynth and the General-MIDI soundfont
# (real sampled instruments) to 24 kHz mono 2.000 s WAV files in OUT_DIR.
# Usage: tests/render_midi.sh OUT_DIR [SOUNDFONT]
set -euo pipefail
out="${1:?usage: render_midi.sh OUT_DIR [SOUNDFONT]}"
sf="${2:-/usr/share/sounds/sf2/FluidR3_GM.sf2}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for tool in fluidsynth sox; do
  command -v "$tool" >/dev/null || { echo "render_midi.sh: '$tool' not found (run tools/setup.sh)" >&2; exit 1; }
done
[ -f "$sf" ] || { echo "render_midi.sh: soundfont '$sf' not found (apt-get install fluid-soundfont-gm)" >&2; exit 1; }
mkdir -p "$out"
for mid in "$here"/fixtures/midi/*.mid; do
  name="$(basename "$mid" .mid)"
  fluidsynth -ni -R 0 -C 0 -g 0.8 -r 24000 -F "$out/$name.stereo.wav" "$sf" "$mid" >/dev/null 2>&1
  sox -V1 "$out/$name.stereo.wav" -c 1 "$out/$name.wav" pad 0 2 trim 0 2
  rm -f "$out/$name.stereo.wav"
done
echo "rendered $(ls "$out"/*.wav | wc -l) clips into $out"
