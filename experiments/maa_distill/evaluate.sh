#!/usr/bin/env bash
# The distillation arms side by side on the three benches' clips (experiments/maa_distill/README.md):
# every arm folder under RUNS with a model.pt (d00 = true labels, d05 = lambda 0.5, d10 = teacher only,
# _s1 = seed 1).
#   bash experiments/maa_distill/evaluate.sh [RUNS=runs/maa_distill]
set -euo pipefail
R=${1:-runs/maa_distill}
export OMP_NUM_THREADS=1
arms=()
for m in "$R"/d*/model.pt; do n=$(basename "$(dirname "$m")"); arms+=("$n=maa:$m"); done
for bench in dev_bench/clips_3231fdad heldout_bench/clips_c185c161 realistic_bench/clips_7d53cfcc; do
  python -m benchmarks.variants --manifest runs/$bench/manifest.csv --out "$R/var_${bench%%/*}" "${arms[@]}"
done
