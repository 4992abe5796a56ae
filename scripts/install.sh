#!/usr/bin/env bash
# Creates .venv and installs prefrl into it. torch's CPU build goes in first, so no resolver pulls a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh || echo "could not install the Debian packages for rendering; see scripts/system-deps.sh" >&2
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip_install() { .venv/bin/python -m pip install -q --disable-pip-version-check "$@"; }
pip_install torch==2.13.0
pip_install -e ".[dev,ray]"  # Ray: the bench's --backend ray is tested
.venv/bin/python -c "import torch, mujoco, gymnasium, stable_baselines3, prefrl; print('prefrl', prefrl.__version__, '| torch', torch.__version__, '| mujoco', mujoco.__version__)"
