#!/usr/bin/env bash
# Single-fold arms of the speed check (experiments/kws_speed_check/README.md): the 2-D CNN + GRU
# through the KWS training task, reference recipe, one CPU thread, one run after the other.
#   bash experiments/kws_speed_check/run_arms.sh FSDD/recordings [OUT] [ARM ...]
set -euo pipefail
ROOT=${1:?FSDD recordings folder}
OUT=${2:-runs/kws_speed_check}
shift $(( $# >= 2 ? 2 : $# ))
ARMS=("$@")
[ ${#ARMS[@]} -gt 0 ] || ARMS=(speed_s0 speed_s1 up_only down_only)
export OMP_NUM_THREADS=1
ann() {  # ann OUTNAME SPEAKERS SEEDS [--set ...]
  local name=$1 spk=$2 seeds=$3; shift 3
  python -m experiments.kws_ann_reference.kws_ann_reference --root "$ROOT" \
    --config pipelines/kws_drf_recipe.yaml --net cnn2d_gru --hidden 144 --loop kws \
    --speakers $spk --seeds $seeds "$@" --out "$OUT/$name"
}
for arm in "${ARMS[@]}"; do
  echo "== $arm $(date -u +%H:%M:%S)"
  case $arm in
    speed_s0) ann speed yweweler 0 ;;                                      # recipe as is (82.25% arm, its yweweler fold)
    speed_s1) ann speed yweweler 1 ;;
    nospeed_s1) ann nospeed yweweler 1 --set "train.augment.speed=[1.0, 1.0]" ;;
    up_only) ann up_only yweweler 0 --set "train.augment.speed=[1.0, 1.15]" ;;   # only speed-ups: full band
    down_only) ann down_only yweweler 0 --set "train.augment.speed=[0.85, 1.0]" ;;  # only slow-downs
    fmax3400) ann fmax3400 yweweler 0 --set frontend.fmax_hz=3400 ;;       # every view has the band it has at f = 0.85
    fmax3400_nospeed) ann fmax3400_nospeed yweweler 0 --set frontend.fmax_hz=3400 --set "train.augment.speed=[1.0, 1.0]" ;;
    *) echo "unknown arm $arm" >&2; exit 2 ;;
  esac
done
