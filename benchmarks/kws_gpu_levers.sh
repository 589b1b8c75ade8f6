#!/usr/bin/env bash
# Three untried levers against the speaker gap of FSDD speaker-independent digits, one GPU call, every run
# at once, each arm beside a same-card baseline (docs/kws.md, "Levers round"):
#
#   accent  + pre-synthesised accent-targeted espeak-ng digits (benchmarks/kws_synth_accent.py) in the
#           training split only: data.extra_train_folders=[SYNTH]
#   cmvn    frontend.cvn=true (variance normalisation after the shipped mean normalisation)
#   mixup   train.augment.mixup=MIXUP (Beta(a, a) mixing of feature sequences and targets)
#   base    the shipped recipe (pipelines/kws_drf.yaml) on the same card
#
# Every arm is one benchmarks/kws_fsdd.py invocation: WIDTH x 3 D-RF, 4 folds x SEEDS (base: SEEDS_BASE),
# up to EPOCHS epochs fitted to BUDGET wall seconds per run (train.time_budget_s; the cosine schedule
# follows the fitted total), JOBS runs at once per arm. Every training process is stopped after LIMIT s;
# then OUT gets results.tar.gz (logs, summaries, per-seed test probabilities; no checkpoints) and
# models_<arm>.tar (each run's model.pt, to score runs that LIMIT cut), beside the caller's log.
#
#   OUT=$OUT ROOT=.kwsdata/recordings SYNTH=.kwsdata/synth_accent bash benchmarks/kws_gpu_levers.sh \
#       2>&1 | tee $OUT/levers.log
#   (smoke test on a CPU: DEVICE=cpu EPOCHS=1 WIDTH=16 JOBS=2 BUDGET=60 LIMIT=600 SPEAKERS=theo ...)
set -u
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}.
export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
OUT=${OUT:-runs/kws_levers}
ROOT=${ROOT:-.kwsdata/recordings}
SYNTH=${SYNTH:-.kwsdata/synth_accent}
DEVICE=${DEVICE:-cuda}
BUDGET=${BUDGET:-90}          # s of training per run (train.time_budget_s)
LIMIT=${LIMIT:-140}           # s: every training process is stopped after this (then results are packed)
EPOCHS=${EPOCHS:-40}
WIDTH=${WIDTH:-128}
JOBS=${JOBS:-8}
SEEDS=${SEEDS:-0 1}
SEEDS_BASE=${SEEDS_BASE:-$SEEDS}
SPEAKERS=${SPEAKERS:-jackson nicolas theo yweweler}
MIXUP=${MIXUP:-0.2}
ARMS=${ARMS:-accent cmvn mixup base}
W=${WORK:-/tmp/kws_levers_work}
mkdir -p "$W" "$OUT"
t0=$(date +%s)
PY=python3
command -v $PY >/dev/null || PY=python
[ -d "$ROOT" ] || { echo "no recordings at $ROOT" >&2; exit 2; }
[ -d "$SYNTH" ] || { echo "no synthetic clips at $SYNTH (benchmarks/kws_synth_accent.py)" >&2; exit 2; }

echo "== $(date -u) device=$DEVICE budget=${BUDGET}s limit=${LIMIT}s epochs=$EPOCHS width=$WIDTH jobs=$JOBS/arm"
{ nvidia-smi -L 2>&1; $PY -c "import torch, sys; print(sys.version.split()[0], 'torch', torch.__version__,
  'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
  nproc --all; } > "$W/machine.txt" 2>&1
cat "$W/machine.txt"
GPU_MON=
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 5 > "$W/gpu_use.csv" 2>&1 &
  GPU_MON=$!
fi

arm_sets() {   # the arm's own overrides, one per line
  case $1 in
    accent) echo "data.extra_train_folders=[$SYNTH]" ;;
    cmvn) echo "frontend.cvn=true" ;;
    mixup) echo "train.augment.mixup=$MIXUP" ;;
    base) ;;
    *) echo "unknown arm $1" >&2; return 2 ;;
  esac
}
declare -A PGID
for arm in $ARMS; do
  sets=(--set model.width="$WIDTH")
  while IFS= read -r s; do [ -n "$s" ] && sets+=(--set "$s"); done < <(arm_sets "$arm")
  seeds=$SEEDS; [ "$arm" = base ] && seeds=$SEEDS_BASE
  echo "== $arm: seeds $seeds ${sets[*]}"
  # own process group, so the pool's workers are stopped with it at LIMIT
  setsid timeout -k 5 "$LIMIT" $PY benchmarks/kws_fsdd.py --root "$ROOT" --device "$DEVICE" \
    --time-budget "$BUDGET" --jobs "$JOBS" --seeds $seeds --speakers $SPEAKERS --epochs "$EPOCHS" \
    "${sets[@]}" --out "$W/$arm" > "$W/$arm.log" 2>&1 &
  PGID[$arm]=$!
done
for arm in $ARMS; do
  wait "${PGID[$arm]}"; rc=$?
  kill -TERM -- "-${PGID[$arm]}" 2>/dev/null     # workers left after a LIMIT cut
  echo "== $arm ended (rc $rc) at $(( $(date +%s) - t0 )) s"; cat "$W/$arm.log"
done
[ -n "$GPU_MON" ] && kill "$GPU_MON" 2>/dev/null
sleep 1

tar czf "$OUT/results.tar.gz" -C "$W" --exclude='*.pt' .
for arm in $ARMS; do
  (cd "$W" && find "$arm" -name model.pt) | tar cf "$OUT/models_$arm.tar" -C "$W" -T -
done
ls -la "$OUT"
echo "== done at $(( $(date +%s) - t0 )) s"
