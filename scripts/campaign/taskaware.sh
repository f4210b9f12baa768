#!/usr/bin/env bash
# Codec campaign, stage 6 (building): task-aware fine-tuning. The building codec trained on MSE
# alone keeps 0.64 of the clean U-Net's F1+ at its top rate on held-out scenes, although JPEG
# 2000 at the same PSNR keeps about as much: the transform spends its few latents on what MSE
# rewards. Here the shipped U-Net, frozen, judges every reconstruction: distortion = MSE +
# WEIGHT x (BCE + soft Dice) (workbench/training/task_term.py), at every rate level, from
# the shipped MSE-trained checkpoint (commit 0013e5d), on 128 x 128 crops.
# The task term makes the low levels spend bits on the buildings (quality 1 rose from 26.6 to
# 28.4-28.7 dB in the first 35 minutes, which would shrink the overlap with JPEG 2000 under
# 8 dB), so LMBDAS may add levels below the start's (an --init with fewer levels keeps them and
# starts each new one a rate-distortion step lower, RateGains.extend_from; 8 levels at most) or
# lower the last lambda (drop_level.py makes such a start from a run's state).
# LR (default 5e-5) sets the learning rate; a run at another rate is named with it.
# Usage: [LMBDAS=...] [LR=...] scripts/campaign/taskaware.sh OUT_DIR WEIGHT [MINUTES] [INIT]
# Resumable: run it again for MINUTES more. Then: python scripts/campaign/ship.py building
# OUT_DIR/building/taskaware-wWEIGHT-lLEVELS-minLOWEST --heldout ... --real ...
set -euo pipefail
out=${1:?usage: taskaware.sh OUT_DIR WEIGHT [MINUTES] [INIT]}
weight=${2:?usage: taskaware.sh OUT_DIR WEIGHT [MINUTES] [INIT]}
minutes=${3:-35}
init=${4:-shared/assets/checkpoints/codec/building/cheng2020-gmm}
eodl=${EODL:-.venv/bin/eodl}
python=${PYTHON:-.venv/bin/python}
lmbdas=${LMBDAS:-200000,80000,32000,12800,5000,2000,800,320}
levels=$(echo "$lmbdas" | tr ',' '\n' | wc -l)
lowest=${lmbdas##*,}
# the name carries the level count and the lowest lambda: --resume picks up only the same run
lr=${LR:-5e-5}
run=$out/building/taskaware-w$weight-l$levels-min$lowest
[ "$lr" = 5e-5 ] || run=$run-lr$lr
budget=$minutes
if [ -f "$run.state.pt" ]; then
  budget=$("$python" -c "import torch,sys; print(torch.load(sys.argv[1], weights_only=False)['spent_s'] / 60 + float(sys.argv[2]))" "$run.state.pt" "$minutes")
fi
mkdir -p "$out/logs"
nice -n 19 "$eodl" train codec --task building --data "$out/data/building-s21-n1600" \
  --model cheng2020-gmm --quality 6 --lmbda 200000 --rate-lmbdas "$lmbdas" --N 48 --M 48 \
  --init "$init" --epochs 10000 --batch-size 8 --lr "$lr" --aux-lr 1e-5 --crop 128 \
  --patience 10000 --eval-limit 16 --max-minutes "$budget" --seed 0 --threads 1 --resume \
  --segmenter shared/assets/checkpoints/segmenter/building --task-weight "$weight" \
  --out "$run" >> "$out/logs/$(basename "$run").log" 2>&1
