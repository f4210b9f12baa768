#!/usr/bin/env bash
# Codec campaign, stage 1: the highest-rate cheng2020-gmm per task at N = 48, from scratch.
# Later stages fine-tune every lower rate point from these weights (CompressAI's practice).
# Resumable: run it again with the same OUT and each run continues from <out>.state.pt.
# Usage: scripts/campaign/base.sh OUT_DIR [MINUTES]   (runs the three tasks at once, niced,
# one torch thread each; MINUTES is each run's wall-clock budget, 140 by default)
set -euo pipefail
out=${1:?usage: base.sh OUT_DIR [MINUTES]}
minutes=${2:-140}
eodl=${EODL:-.venv/bin/eodl}
data=$out/data
mkdir -p "$data" "$out/logs"
declare -A count=([building]=1600 [cloud]=600 [fire]=2400)
declare -A batch=([building]=8 [cloud]=8 [fire]=32)
declare -A crop=([building]=0 [cloud]=128 [fire]=0)
for task in building cloud fire; do
  folder=$data/$task-s21-n${count[$task]}
  [ -f "$folder/index.json" ] || nice -n 19 "$eodl" data generate --task "$task" \
    --count "${count[$task]}" --seed 21 --out "$folder" > "$out/logs/data-$task.log" 2>&1
done
for task in building cloud fire; do
  folder=$data/$task-s21-n${count[$task]}
  extra=()
  [ "${crop[$task]}" -gt 0 ] && extra+=(--crop "${crop[$task]}")
  nice -n 19 "$eodl" train codec --task "$task" --data "$folder" --model cheng2020-gmm \
    --quality 6 --lmbda 200000 --N 48 --epochs 10000 --batch-size "${batch[$task]}" \
    --lr 1e-3 --aux-lr 1e-4 --patience 10000 --eval-limit 16 --max-minutes "$minutes" \
    --seed 0 --threads 1 --resume "${extra[@]}" --out "$out/$task/base-n48" \
    > "$out/logs/train-$task.log" 2>&1 &
done
wait
