#!/usr/bin/env bash
# Codec campaign, stage 4: the stage-2 variable-rate runs go on at a tenth of their learning rate
# (CompressAI's practice: a constant rate to the plateau, then a lower one), from their best
# weights. Stage 2's validation loss jumped by 30-50 % between epochs at a constant rate, a
# sign of steps too large to settle.
# Usage: scripts/campaign/decay.sh OUT_DIR [MINUTES]   (OUT_DIR as given to rates.sh, which must
# hold TASK/rates-n48.state.pt; MINUTES more per task, 100 by default). TASKS="cloud fire" runs
# a subset. Resumable: run it again and each task goes on MINUTES more from TASK/decay-n48.state.pt.
# Then: python scripts/campaign/ship.py TASK OUT_DIR/TASK/decay-n48 --heldout ... --real ...
set -euo pipefail
out=${1:?usage: decay.sh OUT_DIR [MINUTES]}
minutes=${2:-100}
eodl=${EODL:-.venv/bin/eodl}
python=${PYTHON:-.venv/bin/python}
here=$(dirname "$0")
lmbdas=200000,80000,32000,12800,5000,2000,800,320
declare -A count=([building]=1600 [cloud]=600 [fire]=2400)
declare -A batch=([building]=8 [cloud]=8 [fire]=32)
declare -A crop=([building]=0 [cloud]=128 [fire]=0)
declare -A lr=([building]=5e-5 [cloud]=2e-5 [fire]=5e-5)
tasks=${TASKS:-building cloud fire}
for task in $tasks; do
  run=$out/$task/decay-n48
  if [ -f "$run.state.pt" ]; then
    budget=$("$python" -c "import torch,sys; print(torch.load(sys.argv[1], weights_only=False)['spent_s'] / 60 + float(sys.argv[2]))" "$run.state.pt" "$minutes")
  else
    budget=$(PYTHONPATH=. "$python" "$here/decay_start.py" "$out/$task/rates-n48" "$run" "$minutes")
  fi
  extra=()
  [ "${crop[$task]}" -gt 0 ] && extra+=(--crop "${crop[$task]}")
  nice -n 19 "$eodl" train codec --task "$task" --data "$out/data/$task-s21-n${count[$task]}" \
    --model cheng2020-gmm --quality 6 --lmbda 200000 --rate-lmbdas "$lmbdas" --N 48 \
    --epochs 10000 --batch-size "${batch[$task]}" --lr "${lr[$task]}" --aux-lr 1e-4 \
    --patience 10000 --eval-limit 16 --max-minutes "$budget" --seed 0 --threads 1 --resume \
    "${extra[@]}" --out "$run" > "$out/logs/decay-$task.log" 2>&1 &
done
wait
