#!/usr/bin/env bash
# The standard study with the shipped codecs, one output folder per seed (issue 18, item 8):
# Table 1 (eodl experiment baseline) and Fig. 2 at every rate (eodl experiment seg-vs-rate
# --shipped-codec --every-rate), one thread, niced. Resumable: finished rows stay in each
# folder's CSVs. Then: python -m workbench.experiments.seeds --out docs/results/study OUT/seed-*
# (after copying each folder's CSV, markdown and PNG files beside it).
# Usage: scripts/study.sh OUT SEED [SEED ...]   (TASKS="cloud fire" runs a subset)
set -uo pipefail
out=${1:?usage: study.sh OUT SEED [SEED ...]}
shift
eodl=${EODL:-.venv/bin/eodl}
for seed in "$@"; do
  for task in ${TASKS:-building cloud fire}; do
    for exp in baseline seg-vs-rate; do
      echo "$(date -u +%FT%TZ) start seed $seed $task $exp" >> "$out/progress.log"
      OMP_NUM_THREADS=1 nice -n 8 "$eodl" experiment "$exp" --standard --task "$task" \
        --seed "$seed" --shipped-codec --every-rate --threads 1 --out "$out/seed-$seed" \
        >> "$out/seed-$seed.log" 2>&1
      echo "$(date -u +%FT%TZ) done seed $seed $task $exp rc=$?" >> "$out/progress.log"
    done
  done
done
