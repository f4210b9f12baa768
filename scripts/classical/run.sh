#!/usr/bin/env bash
# The classical baselines beside JPEG 2000 (issue 18): each codec at the rates the shipped
# cheng2020-gmm spans, on 16 held-out scenes per task (`eodl data generate --task T --count 32
# --seed 97`, never trained on) and on the handbook's real samples; JPEG 2000 at the same
# payload rates and above. Writes docs/results/classical/TASK-CODEC.json (a codec that reaches
# none of the rates leaves its refusal in TASK-CODEC.refused.txt), then the table:
#   scripts/classical/run.sh HELDOUT_ROOT [REAL_ROOT]   (HELDOUT_ROOT/TASK-s97-n32)
#   python scripts/classical/table.py
set -uo pipefail
heldout=${1:?usage: run.sh HELDOUT_ROOT [REAL_ROOT]}
real=${2:-../shared/data}
eodl=${EODL:-.venv/bin/eodl}
out=docs/results/classical
mkdir -p "$out"
for task in building cloud fire; do
  for codec in jpeg2000-spectral jpeg-xl; do
    if ! "$eodl" evaluate codec --codec "$codec" --data "$heldout/$task-s97-n32" --limit 16 \
        --real "$real" --json > "$out/$task-$codec.json" 2> "$out/$task-$codec.err"; then
      mv "$out/$task-$codec.err" "$out/$task-$codec.refused.txt"
      rm -f "$out/$task-$codec.json"
    else
      rm -f "$out/$task-$codec.err"
    fi
  done
done
