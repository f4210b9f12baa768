"""Campaign stage 4: start a learning-rate decay stage from a stage-2 run's trainer state.

Copies ``SRC.state.pt`` to ``DST.state.pt`` with the best weights (not the last epoch's) as
the point to go on from, and prints the ``--max-minutes`` that gives MINUTES more than the
source run spent (the budget is cumulative across resumes).

Usage: python scripts/campaign/decay_start.py SRC DST MINUTES
"""

from __future__ import annotations

import sys

import torch

from workbench.training.loops import state_path


def main(src: str, dst: str, minutes: float) -> None:
    """Write the decay stage's start state and print its cumulative budget in minutes."""
    saved = torch.load(state_path(src), map_location="cpu", weights_only=False)
    if saved.get("best_model") is not None:
        saved["model"] = saved["best_model"]
    torch.save(saved, state_path(dst))
    print(f"{saved['spent_s'] / 60.0 + minutes:.1f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
