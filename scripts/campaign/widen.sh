#!/usr/bin/env bash
# Codec campaign, stage 5 (building): more latent channels. At M = N = 48 the building model's
# fidelity stops near 34.3 dB whatever the rate (its latents decoded unquantised give the same
# PSNR as level 0); a linear 16x16 block transform keeping 48 of the 2560 values of a 10-band
# block reaches 36.3 dB, 128 reach about 40 dB. The stage-4 weights are widened to M = 128
# (function-preserving, workbench/training/widen.py; transforms stay N = 48, so the compute per
# pixel barely grows) and trained on at all eight rate levels.
# Usage: scripts/campaign/widen.sh OUT_DIR [MINUTES]   (OUT_DIR/building/decay-n48.safetensors
# must exist: scripts/campaign/from_state.py OUT_DIR/building/decay-n48 OUT_DIR/building/rates-n48)
# Resumable: run it again for MINUTES more. Then: python scripts/campaign/ship.py building
# OUT_DIR/building/wide-m128 --heldout ... --real ...
set -euo pipefail
out=${1:?usage: widen.sh OUT_DIR [MINUTES]}
minutes=${2:-100}
eodl=${EODL:-.venv/bin/eodl}
python=${PYTHON:-.venv/bin/python}
lmbdas=200000,80000,32000,12800,5000,2000,800,320
run=$out/building/wide-m128
budget=$minutes
if [ -f "$run.state.pt" ]; then
  budget=$("$python" -c "import torch,sys; print(torch.load(sys.argv[1], weights_only=False)['spent_s'] / 60 + float(sys.argv[2]))" "$run.state.pt" "$minutes")
fi
nice -n 19 "$eodl" train codec --task building --data "$out/data/building-s21-n1600" \
  --model cheng2020-gmm --quality 6 --lmbda 200000 --rate-lmbdas "$lmbdas" --N 48 --M 128 \
  --init "$out/building/decay-n48" --epochs 10000 --batch-size 8 --lr 1e-4 --aux-lr 1e-4 \
  --patience 10000 --eval-limit 16 --max-minutes "$budget" --seed 0 --threads 1 --resume \
  --out "$run" > "$out/logs/widen-building.log" 2>&1
