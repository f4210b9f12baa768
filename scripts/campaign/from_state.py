"""Write a checkpoint from a trainer state's best weights (a stage stopped before it ended).

A stage killed mid-run leaves RUN.state.pt but no RUN.safetensors; the next stage's ``--init``
needs a checkpoint. The manifest copies TEMPLATE.json (the stage it went on from: same model,
data and lambdas), records where the weights came from, and carries no metrics.

Usage: python scripts/campaign/from_state.py RUN TEMPLATE   (RUN.state.pt -> RUN.safetensors)
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from shared.codecs.learned.architectures import build_model
from shared.codecs.learned.checkpoint import save_checkpoint
from shared.codecs.learned.manifest import read_manifest
from workbench.training.loops import state_path


def main(run: str, template: str) -> None:
    """Save RUN's best weights as the checkpoint RUN, described by TEMPLATE's manifest."""
    saved = torch.load(state_path(run), map_location="cpu", weights_only=False)
    base = read_manifest(Path(template).with_suffix(".json"))
    model = build_model(
        base.architecture,
        base.bands,
        base.quality,
        base.N,
        base.M,
        rate_levels=len(base.rate_lmbdas),
    )
    model.load_state_dict(saved.get("best_model") or saved["model"])
    fields = base.to_dict()
    for name in ("sha256", "bands", "N", "M", "metrics"):
        fields.pop(name, None)
    fields["command"] = (
        f"best weights of {state_path(run)} after {saved['epoch'] + 1} epochs, "
        f"{saved['spent_s'] / 60:.0f} CPU-minutes (stage from {template})"
    )
    save_checkpoint(model, run, fields)
    print(f"wrote {run}.safetensors")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
