#!/usr/bin/env bash
# The conv-stem study (experiments/kws_conv_stem/README.md), one CPU thread, one run at a time.
#   bash experiments/kws_conv_stem/run_study.sh FSDD/recordings [OUT] [ARM ...]
# ARM: ann (non-spiking 2-D CNN + GRU through the KWS training task, reference recipe),
#      ann_nospeed (the same without speed perturbation),
#      ann_nospeed_s1 (its seed 1), ann_sinc (the same with band-limited speed perturbation, train.augment.resample=sinc),
#      drf_recipe_sinc (the plain D-RF network, reference recipe, sinc resampling),
#      conv_shipped (D-RF + conv2d stem, shipped recipe), conv_recipe (same, reference recipe),
#      dense_front_shipped (the 2-D front with ReLU instead of spikes, shipped recipe),
#      conv_shipped_s1 / conv_recipe_s1 (seed 1). Every arm resumes where it stopped.
set -euo pipefail
ROOT=${1:?FSDD recordings folder}
OUT=${2:-runs/kws_conv_stem}
shift $(( $# >= 2 ? 2 : $# ))
ARMS=("$@")
[ ${#ARMS[@]} -gt 0 ] || ARMS=(ann conv_shipped conv_recipe)
export OMP_NUM_THREADS=1
for arm in "${ARMS[@]}"; do
  echo "== $arm $(date -u +%H:%M:%S)"
  case $arm in
    ann) python -m experiments.kws_ann_reference.kws_ann_reference --root "$ROOT" \
           --config pipelines/kws_drf_recipe.yaml --net cnn2d_gru --hidden 144 --loop kws --seeds 0 \
           --out "$OUT/ann_cnn2d_gru_recipe" ;;
    ann_nospeed) python -m experiments.kws_ann_reference.kws_ann_reference --root "$ROOT" \
           --config pipelines/kws_drf_recipe.yaml --net cnn2d_gru --hidden 144 --loop kws --seeds 0 \
           --set "train.augment.speed=[1.0, 1.0]" --out "$OUT/ann_cnn2d_gru_recipe_nospeed" ;;
    ann_nospeed_s1) python -m experiments.kws_ann_reference.kws_ann_reference --root "$ROOT" \
           --config pipelines/kws_drf_recipe.yaml --net cnn2d_gru --hidden 144 --loop kws --seeds 0 1 \
           --set "train.augment.speed=[1.0, 1.0]" --out "$OUT/ann_cnn2d_gru_recipe_nospeed" ;;
    ann_sinc) python -m experiments.kws_ann_reference.kws_ann_reference --root "$ROOT" \
           --config pipelines/kws_drf_recipe.yaml --net cnn2d_gru --hidden 144 --loop kws --seeds 0 \
           --speakers yweweler nicolas jackson theo \
           --set train.augment.resample=sinc --out "$OUT/ann_cnn2d_gru_recipe_sinc" ;;
    drf_recipe_sinc) python -m benchmarks.kws_fsdd --root "$ROOT" --config pipelines/kws_drf_recipe.yaml \
           --speakers yweweler nicolas jackson theo \
           --set train.augment.resample=sinc --seeds 0 --out "$OUT/drf_recipe_sinc" ;;
    conv_shipped) python -m benchmarks.kws_fsdd --root "$ROOT" --config pipelines/kws_drf_conv.yaml \
           --seeds 0 --out "$OUT/conv_shipped" ;;
    conv_recipe) python -m benchmarks.kws_fsdd --root "$ROOT" --config pipelines/kws_drf_recipe.yaml \
           --set model.stem=conv2d --seeds 0 --out "$OUT/conv_recipe" ;;
    dense_front_shipped) python -m benchmarks.kws_fsdd --root "$ROOT" --config pipelines/kws_drf_conv.yaml \
           --set model.stem_spiking=false --seeds 0 --out "$OUT/dense_front_shipped" ;;
    conv_shipped_s1) python -m benchmarks.kws_fsdd --root "$ROOT" --config pipelines/kws_drf_conv.yaml \
           --seeds 0 1 --out "$OUT/conv_shipped" ;;
    conv_recipe_s1) python -m benchmarks.kws_fsdd --root "$ROOT" --config pipelines/kws_drf_recipe.yaml \
           --set model.stem=conv2d --seeds 0 1 --out "$OUT/conv_recipe" ;;
    *) echo "unknown arm $arm" >&2; exit 2 ;;
  esac
done
