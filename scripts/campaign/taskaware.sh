#!/usr/bin/env bash
# Codec campaign, stage 6 (building): task-aware fine-tuning. The building codec trained on MSE
# alone kept 0.64 of the clean U-Net's F1+ at its top rate on held-out scenes: the transform
# spent its few latents on what MSE rewards. Here the shipped U-Net, frozen, judges every
# reconstruction: distortion = MSE + WEIGHT x (BCE + soft Dice)
# (workbench/training/task_term.py), at every rate level, on 128 x 128 crops.
# The task term makes the low levels spend bits on the buildings, which would shrink the
# overlap with JPEG 2000 under 8 dB; so the last lambda is 128 (the shipped stage-6 model's).
# A start whose levels are a prefix of LMBDAS keeps them and starts each new level a
# rate-distortion step lower (RateGains.extend_from; 8 levels at most); drop_level.py makes
# such a start from a checkpoint or a run's state (the MSE-trained model's lambda-320 level
# was dropped that way and lambda 128 added: see scripts/campaign/README.md).
# LR (default 5e-5) sets the learning rate; a run at another rate is named with it.
# M (default 48): latent channels; an INIT with fewer is widened without changing what it
# computes (workbench/training/widen.py, stage 5) and the run is named with it.
# TARGET (default mask): what the segmenter's output on a reconstruction is compared with,
# the scene's labels or (clean) its own mask of the clean scene (--task-target); a run with
# target clean is named with it.
# PROCS (default 1): training processes (torchrun, gloo; one thread each): each takes its
# share of every epoch's batches and the gradients are averaged, so 2 on 2 cores run an epoch
# in about half the time (batch 8 per process).
# Usage: [LMBDAS=...] [LR=...] [M=96] [TARGET=clean] [PROCS=2] scripts/campaign/taskaware.sh OUT_DIR WEIGHT [MINUTES] [INIT]
# Resumable: run it again for MINUTES more. Then: python scripts/campaign/ship.py building
# OUT_DIR/building/taskaware-wWEIGHT-lLEVELS-minLOWEST --heldout ... --real ...
set -euo pipefail
out=${1:?usage: taskaware.sh OUT_DIR WEIGHT [MINUTES] [INIT]}
weight=${2:?usage: taskaware.sh OUT_DIR WEIGHT [MINUTES] [INIT]}
minutes=${3:-35}
init=${4:-shared/assets/checkpoints/codec/building/cheng2020-gmm}
eodl=${EODL:-.venv/bin/eodl}
python=${PYTHON:-.venv/bin/python}
lmbdas=${LMBDAS:-200000,80000,32000,12800,5000,2000,800,128}
levels=$(echo "$lmbdas" | tr ',' '\n' | wc -l)
lowest=${lmbdas##*,}
lr=${LR:-5e-5}
procs=${PROCS:-1}
latents=${M:-48}
target=${TARGET:-mask}
# the name carries the level count and the lowest lambda: --resume picks up only the same run
run=$out/building/taskaware-w$weight-l$levels-min$lowest
[ "$latents" = 48 ] || run=$run-m$latents
[ "$target" = mask ] || run=$run-t$target
[ "$lr" = 5e-5 ] || run=$run-lr$lr
budget=$minutes
if [ -f "$run.state.pt" ]; then
  budget=$("$python" -c "import torch,sys; print(torch.load(sys.argv[1], weights_only=False)['spent_s'] / 60 + float(sys.argv[2]))" "$run.state.pt" "$minutes")
fi
launch=("$eodl")
[ "$procs" -gt 1 ] && launch=("$python" -m torch.distributed.run --standalone \
  --nproc-per-node "$procs" -m workbench.cli.main)
mkdir -p "$out/logs"
data=$out/data/building-s21-n1600  # stage 1's training scenes, made again on a new machine
[ -f "$data/index.json" ] || "$eodl" data generate --task building --count 1600 --seed 21 \
  --out "$data" > "$out/logs/data-building.log" 2>&1
OMP_NUM_THREADS=1 nice -n 19 "${launch[@]}" train codec --task building \
  --data "$data" \
  --model cheng2020-gmm --quality 6 --lmbda 200000 --rate-lmbdas "$lmbdas" --N 48 --M "$latents" \
  --init "$init" --epochs 10000 --batch-size 8 --lr "$lr" --aux-lr 1e-5 --crop 128 \
  --patience 10000 --eval-limit 16 --max-minutes "$budget" --seed 0 --threads 1 --resume \
  --segmenter shared/assets/checkpoints/segmenter/building --task-weight "$weight" \
  --task-target "$target" \
  --out "$run" >> "$out/logs/$(basename "$run").log" 2>&1
