#!/usr/bin/env bash
# FSDD speaker-independent keyword sweep on one GPU machine, every run at once (docs/kws.md, "GPU round").
#
#   A  log-mel, width WIDTH x 3 blocks, 4 folds x SEEDS_A, up to EPOCHS epochs fitted to BUDGET s each
#   B  when A ends with more than 150 s of LIMIT left: the same recipe with SEEDS_B (A's seeds resume as
#      finished, the new ones train in the time left), so the fold ensembles grow
#   R  raw-audio front-end (the D-RF dendrites resonate on the 8-kHz waveform), RAW_WIDTH x 3, 4 folds, seed 0
#   F  recipe A on all four speakers (10% random validation), seed 0: the model to ship if A beats the
#      shipped recipe
#
# Every run is a benchmarks/kws_fsdd.py run (or `neuroaudio train kws` for F) with train.device=DEVICE and
# train.time_budget_s; the whole training stage is cut at LIMIT s; the run folders (WORK) are packed into
# OUT: results.tar.gz (everything but checkpoints), final_model.pt, fold_models_s0.tar (+ the caller's log).
#
#   OUT=$OUT ROOT=.kwsdata/recordings bash benchmarks/kws_gpu_sweep.sh 2>&1 | tee $OUT/sweep.log
#   (smoke test on a CPU: DEVICE=cpu EPOCHS=1 WIDTH=16 RAW_WIDTH=4 JOBS=2 SEEDS_A="0 1" SEEDS_B="0 1 2" ...)
set -u
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}.
export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
OUT=${OUT:-runs/kws_gpu}
ROOT=${ROOT:-../shared/data/fsdd/recordings}
DEVICE=${DEVICE:-cuda}
BUDGET=${BUDGET:-300}          # s of training per run (train.time_budget_s)
LIMIT=${LIMIT:-390}            # s: every training process is stopped after this (then results are packed)
EPOCHS=${EPOCHS:-80}
WIDTH=${WIDTH:-256}
JOBS=${JOBS:-16}
SEEDS_A=${SEEDS_A:-0 1 2 3}
SEEDS_B=${SEEDS_B:-0 1 2 3 4 5 6 7}
RAW_WIDTH=${RAW_WIDTH:-64}
RAW_EPOCHS=${RAW_EPOCHS:-40}
W=${WORK:-/tmp/kws_gpu_work}    # run folders (outside OUT: only the packed files go back)
mkdir -p "$W" "$OUT"
t0=$(date +%s)
left() { echo $(( LIMIT - ($(date +%s) - t0) )); }
PY=python3
command -v $PY >/dev/null || PY=python

echo "== $(date -u) device=$DEVICE budget=${BUDGET}s limit=${LIMIT}s epochs=$EPOCHS width=$WIDTH jobs=$JOBS"
{ nvidia-smi 2>&1; $PY -c "import torch, sys; print(sys.version); print('torch', torch.__version__,
  'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
  nproc; free -g; } > "$W/machine.txt" 2>&1
cat "$W/machine.txt"
GPU_MON=
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 5 > "$W/gpu_use.csv" 2>&1 &
  GPU_MON=$!
fi

common=(--root "$ROOT" --device "$DEVICE" --time-budget "$BUDGET")
# A: log-mel, wider, longer, 4 seeds per fold
timeout -k 10 "$LIMIT" $PY benchmarks/kws_fsdd.py "${common[@]}" --jobs "$JOBS" --seeds $SEEDS_A \
  --epochs "$EPOCHS" --set model.width="$WIDTH" --out "$W/logmel_w$WIDTH" > "$W/A.log" 2>&1 &
PID_A=$!
# R: raw audio into the dendrites (branch frequencies 0-4 kHz, decays 0.5-8 ms)
timeout -k 10 "$LIMIT" $PY benchmarks/kws_fsdd.py "${common[@]}" --jobs 4 --seeds 0 --epochs "$RAW_EPOCHS" \
  --set frontend.kind=raw --set model.width="$RAW_WIDTH" \
  --set "model.neuron_kwargs={branches: 4, tau_range: [4.0, 64.0], freq_range: [0.0, 0.5]}" \
  --out "$W/raw_w$RAW_WIDTH" > "$W/R.log" 2>&1 &
PID_R=$!
# F: recipe A on all four speakers
timeout -k 10 "$LIMIT" $PY -c "from neuroaudio.cli import main; main()" train kws --config pipelines/kws_drf.yaml \
  --quiet --set data.root="$ROOT" --set model.width="$WIDTH" --set train.epochs="$EPOCHS" \
  --set train.device="$DEVICE" --set train.time_budget_s="$BUDGET" --set out_dir="$W/final_w$WIDTH" \
  > "$W/F.log" 2>&1 &
PID_F=$!

wait $PID_A; echo "== A ended (rc $?) at $(( $(date +%s) - t0 )) s"; cat "$W/A.log"
cp "$W/logmel_w$WIDTH/summary.json" "$W/logmel_w$WIDTH/summary_A.json" 2>/dev/null
L=$(left)
if [ "$L" -gt 150 ]; then
  echo "== B: seeds $SEEDS_B with $((L - 60)) s per run"
  timeout -k 10 "$L" $PY benchmarks/kws_fsdd.py --root "$ROOT" --device "$DEVICE" --time-budget $((L - 60)) \
    --jobs "$JOBS" --seeds $SEEDS_B --epochs "$EPOCHS" --set model.width="$WIDTH" --out "$W/logmel_w$WIDTH" \
    > "$W/B.log" 2>&1
  echo "== B ended (rc $?) at $(( $(date +%s) - t0 )) s"; cat "$W/B.log"
fi
wait $PID_R; echo "== R ended (rc $?) at $(( $(date +%s) - t0 )) s"; cat "$W/R.log"
wait $PID_F; echo "== F ended (rc $?) at $(( $(date +%s) - t0 )) s"; cat "$W/F.log"
[ -n "$GPU_MON" ] && kill "$GPU_MON" 2>/dev/null

# pack: everything but checkpoints; the all-speaker model; the seed-0 fold models
tar czf "$OUT/results.tar.gz" -C "$W" --exclude='*.pt' .
[ -f "$W/final_w$WIDTH/model.pt" ] && cp "$W/final_w$WIDTH/model.pt" "$OUT/final_model.pt"
(cd "$W" && find . -path '*_s[0-9]*' -prune -o -name model.pt -print) | tar cf "$OUT/fold_models_s0.tar" -C "$W" -T -
ls -la "$OUT"
echo "== done at $(( $(date +%s) - t0 )) s"
