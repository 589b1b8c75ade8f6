#!/usr/bin/env bash
# MAA ablations and scale arms at the shipped data budget, plus the KWS neuron comparison on all four
# folds, in ONE call on a lent GPU machine (docs/maa.md "GPU round", docs/kws.md). Steps:
#
#  1. (optional) install the wheels in WHEELS (pyroomacoustics, soundfile, espeakng-loader, cffi,
#     pycparser: the simulator's needs that the GPU image lacks) into /tmp/site;
#  2. simulate and encode the training and validation frame caches of pipelines/maa.yaml (the
#     shipped model's 18,000 clips, same seeds) with NPROC processes (`python -m neuroaudio.maa.data
#     --part r/N`); digests, frame counts and coincidence totals of a few shards are printed to compare
#     with a cache built elsewhere (the labels are bit-identical; the counts differ in ~0.2% of the
#     entries by a few coincidences between builds on different machines/library versions);
#  3. train every arm of ARMS at once on the card (`cli.py train maa`, one process per arm, each with
#     train.time_budget_s fitted to the time left before END; the cosine schedule follows the cut),
#     and, beside them, `python -m benchmarks.kws_fsdd --kinds drf brf alif` (4 folds, seed 0, the shipped
#     KWS recipe) when KWS=1;
#  4. pack into OUT: maa_arms.tar (each arm's model.pt, log.csv, metrics.json), kws_cmp.tar.gz
#     (summary, logs, per-seed test probabilities), round.log is the caller's tee.
#
#   OUT=$OUT WHEELS=.whl ROOT=.kwsdata/recordings bash experiments/maa_gpu_round/maa_gpu_round.sh 2>&1 | tee $OUT/round.log
#   (smoke test on a CPU: DEVICE=cpu CLIPS=64 VAL_CLIPS=9 ARMS="base nofsja" END=400 KWS_SETS="--epochs 1
#    --set model.width=16 --speakers theo" bash experiments/maa_gpu_round/maa_gpu_round.sh)
#
# Arms (each a set of `--set` overrides of pipelines/maa.yaml; 'base' is the shipped recipe):
#   base     the shipped recipe          nofsja  model.fsja=false        nostm  model.stm=false
#   nosym    train.augment_symmetry=false (separates the effect of the symmetries from that of the data)
#   pool11   model.input_pool=[1,1] (the paper's 51-detector input)
#   wide     model.channels=[6,24,48,96] (twice the conv channels)
#   long     train.epochs=27 (3x the shipped epochs, if the budget allows)
#   big      wide + pool11 + train.epochs=18
set -u
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
t0=$(date +%s)
OUT=${OUT:-runs/maa_gpu_round}
W=${WORK:-/tmp/maa_gpu_work}
WHEELS=${WHEELS:-}
ROOT=${ROOT:-.kwsdata/recordings}
DEVICE=${DEVICE:-cuda}
CLIPS=${CLIPS:-18000}
VAL_CLIPS=${VAL_CLIPS:-270}
NPROC=${NPROC:-$(nproc --all)}   # not plain nproc: GNU nproc obeys OMP_NUM_THREADS (=1 above)
END=${END:-560}               # s after the start by which every training process has stopped
SIM_LIMIT=${SIM_LIMIT:-$(( END - 200 ))}   # s: a cache build still running then is stopped (the round ends)
[ "$SIM_LIMIT" -gt 30 ] || SIM_LIMIT=30
LOAD_S=${LOAD_S:-75}          # s a training process needs to read the caches before its first epoch
ARMS=${ARMS:-base nofsja nostm nosym pool11 wide long big}
KWS=${KWS:-1}
KWS_JOBS=${KWS_JOBS:-12}
KWS_SETS=${KWS_SETS:-}
CONFIG=${CONFIG:-pipelines/maa.yaml}   # e.g. experiments/maa_realistic/pipeline.yaml
mkdir -p "$W" "$OUT"
el() { echo $(( $(date +%s) - t0 )); }

if [ -n "$WHEELS" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    "$WHEELS"/*.whl || { echo "wheel install failed" >&2; exit 2; }
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}.
PY=python3
command -v $PY >/dev/null || PY=python
echo "== $(date -u) device=$DEVICE clips=$CLIPS nproc=$NPROC end=${END}s arms: $ARMS"
{ nvidia-smi -L 2>&1; $PY -c "import torch, sys, numpy, scipy, pyroomacoustics, soundfile, espeakng_loader
print(sys.version.split()[0], 'torch', torch.__version__, 'numpy', numpy.__version__, 'pra',
      pyroomacoustics.__version__, 'cuda', torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"; nproc --all; } 2>&1
GPU_MON=
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 5 > "$W/gpu_use.csv" 2>&1 &
  GPU_MON=$!
fi

# 2. caches (resumable: shards already there are kept)
DATA_SETS=(--set out_dir="$W/maa" --set data.cache_dir="$W/cache" --set data.train_clips="$CLIPS"
           --set data.val_clips="$VAL_CLIPS")
pids=()
for ((r = 0; r < NPROC; r++)); do
  timeout -k 5 "$SIM_LIMIT" $PY -m neuroaudio.maa.data $CONFIG --part "$r/$NPROC" "${DATA_SETS[@]}" > "$W/sim_$r.log" 2>&1 &
  pids+=($!)
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
echo "== caches built at $(el) s (failed parts: $fail); $(ls "$W/cache/train" | wc -l) train files"
[ $fail = 0 ] || { tail -n 5 "$W"/sim_*.log; exit 2; }
$PY - "$W/cache" <<'EOF'
import hashlib, sys
from pathlib import Path
import numpy as np
root = Path(sys.argv[1])
for p in [root / "train/shard_00000.npz", root / "train/shard_00150.npz", root / "train/shard_00281.npz",
          root / "val/shard_00000.npz"]:
    if not p.is_file():
        continue
    z, h = np.load(p), hashlib.sha256()
    for k in sorted(z.files):
        h.update(k.encode()); h.update(np.ascontiguousarray(z[k]).tobytes())
    print("digest", p.parent.name + "/" + p.name, h.hexdigest()[:16], "frames", len(z["x"]), "counts",
          int(z["x"].sum(dtype=np.int64)), "azimuth sum", round(float(z["azimuth_deg"].sum()), 3))
EOF

# 3. training arms + KWS comparison, all at once
arm_sets() {
  case $1 in
    base) ;;
    nofsja) echo "model.fsja=false" ;;
    nostm) echo "model.stm=false" ;;
    nosym) echo "train.augment_symmetry=false" ;;
    pool11) echo "model.input_pool=[1,1]" ;;
    wide) echo "model.channels=[6,24,48,96]" ;;
    long) echo "train.epochs=27" ;;
    big) printf '%s\n' "model.channels=[6,24,48,96]" "model.input_pool=[1,1]" "train.epochs=18" ;;
    *) echo "unknown arm $1" >&2; return 2 ;;
  esac
}
left=$(( END - $(el) ))
budget=$(( left - LOAD_S - 15 ))
[ $budget -gt 30 ] || { echo "too little time left for training ($left s)" >&2; budget=30; }
echo "== training from $(el) s: budget ${budget} s per run, stop at $END s"
declare -A PGID
for arm in $ARMS; do
  sets=("${DATA_SETS[@]}" --set out_dir="$W/arms/$arm" --set train.time_budget_s="$budget")
  while IFS= read -r s; do [ -n "$s" ] && sets+=(--set "$s"); done < <(arm_sets "$arm")
  setsid timeout -k 5 "$left" $PY cli.py train maa --config $CONFIG "${sets[@]}" --no-resume \
    > "$W/arm_$arm.log" 2>&1 &
  PGID[$arm]=$!
done
if [ "$KWS" = 1 ]; then
  setsid timeout -k 5 "$left" $PY -m benchmarks.kws_fsdd --root "$ROOT" --device "$DEVICE" \
    --time-budget $(( left - 25 )) --jobs "$KWS_JOBS" --kinds drf brf alif --seeds 0 $KWS_SETS \
    --out "$W/kws_cmp" > "$W/kws_cmp.log" 2>&1 &
  PGID[kws]=$!
fi
for k in "${!PGID[@]}"; do
  wait "${PGID[$k]}"; rc=$?
  kill -TERM -- "-${PGID[$k]}" 2>/dev/null
  echo "== $k ended (rc $rc) at $(el) s"
done
[ -n "$GPU_MON" ] && kill "$GPU_MON" 2>/dev/null
for arm in $ARMS; do
  echo "== arm $arm: $(arm_sets "$arm" | tr '\n' ' ')"
  grep -E "epoch [0-9]+:|Error|error" "$W/arm_$arm.log" | tail -n 30
  cat "$W/arms/$arm/metrics.json" 2>/dev/null; echo
done
[ "$KWS" = 1 ] && tail -n 40 "$W/kws_cmp.log"

# 4. pack
(cd "$W" && find arms \( -name model.pt -o -name log.csv -o -name metrics.json \)) \
  | tar cf "$OUT/maa_arms.tar" -C "$W" -T -
[ "$KWS" = 1 ] && tar czf "$OUT/kws_cmp.tar.gz" -C "$W" --exclude='*.pt' kws_cmp kws_cmp.log
cp "$W/gpu_use.csv" "$OUT/" 2>/dev/null
ls -la "$OUT"
echo "== done at $(el) s"
