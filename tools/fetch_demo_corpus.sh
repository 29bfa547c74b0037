#!/usr/bin/env bash
# Real recorded music for the pretraining demo: the Debian package singularity-music (16 tracks,
# ~64 min of orchestral/electronic game music, CC-BY-SA), downloaded once into a cache, cut to
# the first SECONDS of each track (0 = whole tracks) as 24 kHz mono WAV, and listed in fairseq manifests
# (train.tsv: 13 tracks, valid.tsv: 3 other tracks).
#   tools/fetch_demo_corpus.sh OUT_DIR [SECONDS=0]
# Idempotent: an existing OUT_DIR/train.tsv is kept. Needs apt-get, dpkg-deb and sox.
set -euo pipefail
out="${1:?usage: fetch_demo_corpus.sh OUT_DIR [SECONDS]}"
seconds="${2:-0}"
if [[ -s "$out/train.tsv" && -s "$out/valid.tsv" ]]; then exit 0; fi
for tool in apt-get dpkg-deb sox; do
  command -v "$tool" >/dev/null || { echo "fetch_demo_corpus: '$tool' is missing" >&2; exit 1; }
done
cache="${MUSEFM_CACHE:-$HOME/.cache/musefm}/debs"
mkdir -p "$cache" "$out/audio"
if ! ls "$cache"/singularity-music_*.deb >/dev/null 2>&1; then
  (cd "$cache" && apt-get download singularity-music 2>/dev/null) || {
    echo "fetch_demo_corpus: 'apt-get download singularity-music' failed (no Debian mirror?)" >&2
    exit 1
  }
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
dpkg-deb --fsys-tarfile "$(ls "$cache"/singularity-music_*.deb | head -1)" |
  tar -x -C "$tmp" --wildcards --no-anchored '*.ogg'
n=0
: > "$tmp/list"
while IFS= read -r f; do
  name="$(basename "$f" .ogg | tr -c 'A-Za-z0-9\n' '_')"
  if [[ "$seconds" == 0 ]]; then
    sox -V1 "$f" -r 24000 -c 1 -b 16 "$out/audio/$name.wav"
  else
    sox -V1 "$f" -r 24000 -c 1 -b 16 "$out/audio/$name.wav" trim 0 "$seconds"
  fi
  echo "$name.wav" >> "$tmp/list"
  n=$((n + 1))
done < <(find "$tmp" -name '*.ogg' | LC_ALL=C sort)
root="$(cd "$out/audio" && pwd)"
write_manifest() {  # split, sed range of the sorted track list
  { echo "$root"
    sed -n "$2" "$tmp/list" | while IFS= read -r w; do
      printf '%s\t%s\n' "$w" "$(soxi -s "$out/audio/$w")"
    done; } > "$out/$1.tsv.tmp"
  mv "$out/$1.tsv.tmp" "$out/$1.tsv"
}
write_manifest valid '1,3p'
write_manifest train '4,$p'
echo "demo corpus: $n tracks ($( [[ $seconds == 0 ]] && echo whole || echo "first ${seconds} s")) of singularity-music in $out (train.tsv, valid.tsv)"
