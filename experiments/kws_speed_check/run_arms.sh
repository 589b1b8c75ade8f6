#!/usr/bin/env bash
# Single-fold arms of the speed check (experiments/kws_speed_check/README.md): the 2-D CNN + GRU
# through the KWS training task, reference recipe, one CPU thread, one run after the other.
#   bash experiments/kws_speed_check/run_arms.sh FSDD/recordings [OUT] [ARM ...]
set -euo pipefail
ROOT=${1:?FSDD recordings folder}
OUT=${2:-runs/kws_speed_check}
shift $(( $# >= 2 ? 2 : $# ))
ARMS=("$@")
[ ${#ARMS[@]} -gt 0 ] || ARMS=(speed_s0 up_only down_only speed_s1 fmax3400 fmax3400_nospeed fmax3400_4 \
  down_fmax3400 vtlp_down fmax3400_nospeed_4 down_only_s1 up_only_s1 up_only_4)
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
    down_only_s1) ann down_only yweweler 1 --set "train.augment.speed=[0.85, 1.0]" ;;
    up_only_s1) ann up_only yweweler 1 --set "train.augment.speed=[1.0, 1.15]" ;;
    up_only_4) ann up_only "yweweler nicolas jackson theo" 0 --set "train.augment.speed=[1.0, 1.15]" ;;
    vtlp_down) ann vtlp_down yweweler 0 --set "train.augment.speed=[1.0, 1.0]" --set "train.augment.vtlp=[0.85, 1.0]" ;;  # formants down, tempo kept, band full
    nospeed_s1) ann nospeed yweweler 1 --set "train.augment.speed=[1.0, 1.0]" ;;
    up_only) ann up_only yweweler 0 --set "train.augment.speed=[1.0, 1.15]" ;;   # only speed-ups: full band
    down_only) ann down_only yweweler 0 --set "train.augment.speed=[0.85, 1.0]" ;;  # only slow-downs
    fmax3400) ann fmax3400 yweweler 0 --set frontend.fmax_hz=3400 ;;       # every view has the band it has at f = 0.85
    fmax3400_nospeed) ann fmax3400_nospeed yweweler 0 --set frontend.fmax_hz=3400 --set "train.augment.speed=[1.0, 1.0]" ;;
    fmax3400_4) ann fmax3400 "yweweler nicolas jackson theo" 0 --set frontend.fmax_hz=3400 ;;   # all 4 folds
    fmax3400_nospeed_4) ann fmax3400_nospeed "yweweler nicolas jackson theo" 0 --set frontend.fmax_hz=3400 \
           --set "train.augment.speed=[1.0, 1.0]" ;;
    down_fmax3400) ann down_fmax3400 yweweler 0 --set frontend.fmax_hz=3400 --set "train.augment.speed=[0.85, 1.0]" ;;
    drf_fmax3400) python -m benchmarks.kws_fsdd --root "$ROOT" --config pipelines/kws_drf_recipe.yaml \
           --speakers yweweler nicolas jackson theo --set frontend.fmax_hz=3400 --seeds 0 --out "$OUT/drf_fmax3400" ;;
    *) echo "unknown arm $arm" >&2; exit 2 ;;
  esac
done
