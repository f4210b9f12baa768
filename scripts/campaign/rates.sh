#!/usr/bin/env bash
# Codec campaign, stage 2: one variable-rate cheng2020-gmm per task (8 gain levels, lambda 2e5
# down to 320), warm-started from the stage-1 snapshots in scripts/campaign/checkpoints/.
# Resumable: run it again with the same OUT and each run continues from <out>.state.pt.
# Usage: scripts/campaign/rates.sh OUT_DIR [MINUTES]   (OUT_DIR as given to base.sh, whose data
# it reuses or regenerates; three tasks at once, niced, one torch thread each; 115 minutes each
# by default). TASKS="cloud" runs a subset; INIT_FROM=path/with/TASK/in/it starts from other
# weights (e.g. INIT_FROM=shared/assets/checkpoints/codec/TASK/cheng2020-gmm, the shipped ones).
# Cloud trains at a lower learning rate: at 5e-4 its validation loss rose from the second
# epoch on (41 -> 49 -> 77), where building and fire fell.
set -euo pipefail
out=${1:?usage: rates.sh OUT_DIR [MINUTES]}
minutes=${2:-115}
eodl=${EODL:-.venv/bin/eodl}
here=$(dirname "$0")
lmbdas=200000,80000,32000,12800,5000,2000,800,320
data=$out/data
mkdir -p "$data" "$out/logs"
declare -A count=([building]=1600 [cloud]=600 [fire]=2400)
declare -A batch=([building]=8 [cloud]=8 [fire]=32)
declare -A crop=([building]=0 [cloud]=128 [fire]=0)
declare -A lr=([building]=5e-4 [cloud]=2e-4 [fire]=5e-4)
tasks=${TASKS:-building cloud fire}
init_for() {
  if [ -n "${INIT_FROM:-}" ]; then echo "${INIT_FROM//TASK/$1}"; else echo "$here/checkpoints/$1-base-n48"; fi
}
for task in $tasks; do
  folder=$data/$task-s21-n${count[$task]}
  [ -f "$folder/index.json" ] || nice -n 19 "$eodl" data generate --task "$task" \
    --count "${count[$task]}" --seed 21 --out "$folder" > "$out/logs/data-$task.log" 2>&1
done
for task in $tasks; do
  folder=$data/$task-s21-n${count[$task]}
  extra=()
  [ "${crop[$task]}" -gt 0 ] && extra+=(--crop "${crop[$task]}")
  nice -n 19 "$eodl" train codec --task "$task" --data "$folder" --model cheng2020-gmm \
    --quality 6 --lmbda 200000 --rate-lmbdas "$lmbdas" --N 48 --epochs 10000 \
    --batch-size "${batch[$task]}" --lr "${lr[$task]}" --aux-lr 1e-4 --patience 10000 --eval-limit 16 \
    --max-minutes "$minutes" --seed 0 --threads 1 --resume "${extra[@]}" \
    --init "$(init_for "$task")" --out "$out/$task/rates-n48" \
    > "$out/logs/rates-$task.log" 2>&1 &
done
wait
