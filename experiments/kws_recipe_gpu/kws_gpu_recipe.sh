#!/usr/bin/env bash
# The speaker-independent KWS recipe grid on one GPU machine (docs/kws.md, "Speaker-independent recipe"):
# python -m experiments.kws_recipe_gpu.kws_gpu_recipe with one CPU thread per run, unbuffered output, its log kept in OUT.
#
#   bash experiments/kws_recipe_gpu/kws_gpu_recipe.sh --root data_fsdd --out "$OUT"              # H200: <= ~8 min
#   bash experiments/kws_recipe_gpu/kws_gpu_recipe.sh --root DIR --out OUT --device cpu --epochs 1 --width 8 --max-per-digit 2
#
# Every argument goes to the Python script (--root and --out are required; --device defaults to cuda).
set -u
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
cd "$(dirname "$0")/../.." || exit 2
PY=python3
command -v $PY >/dev/null || PY=python
out=""
prev=""
for a in "$@"; do [ "$prev" = "--out" ] && out=$a; prev=$a; done
if [ -z "$out" ]; then
  echo "give --out DIR (the results folder), e.g. bash experiments/kws_recipe_gpu/kws_gpu_recipe.sh --root data_fsdd --out \$OUT" >&2
  exit 2
fi
mkdir -p "$out"
$PY -m experiments.kws_recipe_gpu.kws_gpu_recipe "$@" 2>&1 | tee "$out/run.log"
exit "${PIPESTATUS[0]}"
