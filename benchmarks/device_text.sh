#!/bin/bash
# The text module's CUDA checks in one command for a lent GPU machine (Python 3.12 with torch, tokenizers,
# safetensors and huggingface_hub already there, no package registry): sampling and PPO throughput for three model
# sizes in fp32 and TF32, then `prefrl text demo` end to end on the GPU. Everything lands in $OUT.
#
# Prepare here, once (the wheels travel with the working tree; .git/info/exclude keeps them out of git):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl \
#     transformers==5.24.0 gymnasium==1.4.0 farama-notifications==0.0.6
# Run there: the device tool's run with command "bash benchmarks/device_text.sh", carry [".whl"], timeout_s 540.
# Dry run here on a tiny budget: DEVICE=cpu SIZES=small BATCH=4 TOKENS=8 DEMO=0 OUT=/tmp/dev PYTHON=.venv/bin/python \
#   bash benchmarks/device_text.sh
set -u -o pipefail
PYTHON=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
SIZES=${SIZES:-small medium large}
BATCH=${BATCH:-64}
TOKENS=${TOKENS:-96}
DEMO=${DEMO:-1}
OUT=${OUT:?set OUT to a folder for the results}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
mkdir -p "$OUT"
site=$(mktemp -d)
"$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" .whl/*.whl || exit 1
ln -s "$PWD/envs" "$site/prefrl_envs"  # the package from source, as pyproject maps it; no build step needed there
export PYTHONPATH="$site:$PWD"
{ nvidia-smi -L 2>/dev/null || true; "$PYTHON" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())"; } | tee "$OUT/machine.txt"
# shellcheck disable=SC2086
timeout 240 "$PYTHON" benchmarks/text_throughput.py --device "$DEVICE" --sizes $SIZES --batch "$BATCH" \
  --max-new-tokens "$TOKENS" --tf32 --out "$OUT/throughput.json" 2>&1 | tee "$OUT/throughput.log"
status=$?
if [ "$DEMO" = 1 ]; then
  demo=$(mktemp -d)  # a fresh folder: the demo resumes from an existing one, which would fake its time on a rerun
  start=$(date +%s)
  timeout 280 "$PYTHON" -m prefrl text demo --device "$DEVICE" --out "$demo/run" 2>&1 | tee "$OUT/demo.log"
  demo_status=$?
  echo "demo: exit $demo_status after $(($(date +%s) - start)) s" | tee -a "$OUT/demo.log"
  [ $status -eq 0 ] && status=$demo_status
fi
exit $status
