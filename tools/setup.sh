#!/usr/bin/env bash
# Idempotent set-up for musefm: Debian packages + a project-local virtual environment
# holding the pinned torch wheel (its libtorch is what the C++ build links against).
#
#   tools/setup.sh           build + test dependencies (what the README commands need)
#   tools/setup.sh --tools   additionally the Python packages of tools/ (fixture generators,
#                            peer benchmarks), pinned in tools/requirements.txt
#
# A second run only checks and returns in a few seconds.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
want_tools=0
for arg in "$@"; do
  case "$arg" in
    --tools) want_tools=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

# Keep in sync with the README's "Dependencies" section.
TORCH_VERSION="2.11.0"
apt_packages=(
  build-essential cmake ninja-build ccache pkg-config git python3 python3-venv
  libsndfile1-dev libsamplerate0-dev libsoxr-dev libeigen3-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # headers of gloo, for libtorch's c10d ProcessGroupGloo (distributed k-means, pretraining)
  libgloo-dev
  # real audio for tests and the demo: FluidSynth + General-MIDI soundfont, sox, opus
  fluidsynth fluid-soundfont-gm timgm6mb-soundfont sox libsox-fmt-all opus-tools
)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

venv="$root/.venv"
py=python3
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating virtual environment $venv"
  "$py" -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import torch, safetensors, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$TORCH_VERSION' else 1)" 2>/dev/null; then
  echo "setup: installing torch==$TORCH_VERSION into $venv (a few GB, once)"
  "$venv/bin/pip" install -q --disable-pip-version-check "torch==$TORCH_VERSION" "numpy<3" "safetensors==0.8.0"
fi
# The demo's probe data generator (tools/make_probe_data.py) writes WAVs with soundfile.
if ! "$venv/bin/python" -c "import soundfile" 2>/dev/null; then
  "$venv/bin/pip" install -q --disable-pip-version-check "soundfile==$(sed -n 's/^soundfile==//Ip' "$root/tools/requirements.txt")"
fi
# The Python module (python/, built by tools/test.sh with MUSEFM_BUILD_PYTHON=ON): nanobind for
# the bindings, scikit-build-core for `pip install --no-build-isolation .`, pytest for its tests,
# scikit-learn for examples/python_probe.py, hearvalidator (the HEAR 2021 API checker; installed
# without its tensorflow dependency, which only its TensorFlow branch uses) for musefm.hear.
PY_BUILD_PACKAGES=("nanobind==3.1.0" "scikit-build-core==1.1.2" "pytest==9.2.0"
  "scikit-learn==$(sed -n 's/^scikit-learn==//p' "$root/tools/requirements.txt")"
  "hearvalidator==2021.0.2")
if ! "$venv/bin/python" - "${PY_BUILD_PACKAGES[@]}" 2>/dev/null <<'PYCHECK'
import sys
from importlib.metadata import version
sys.exit(any(version(n) != v for n, v in (p.split("==") for p in sys.argv[1:])))
PYCHECK
then
  echo "setup: installing ${PY_BUILD_PACKAGES[*]} into $venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "${PY_BUILD_PACKAGES[@]:0:4}"
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps "${PY_BUILD_PACKAGES[4]}"
fi
if [ "$want_tools" -eq 1 ]; then
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$root/tools/requirements.txt"
fi
echo "setup: ok (torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)'))"
