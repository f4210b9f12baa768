"""Ship a variable-rate campaign checkpoint: float16 weights, measured on held-out scenes.

Usage:
    python scripts/campaign/ship.py TASK SOURCE --heldout DIR [--real ROOT] [--limit 32]
    python scripts/campaign/ship.py TASK --measure-only --heldout DIR [--real ROOT]

1. Rounds SOURCE's floating-point weights (the trainer's float32 output) to float16, rebuilds
   the entropy models' CDF tables from the rounded weights (so tables and weights agree), and
   writes ``shared/assets/checkpoints/codec/TASK/cheng2020-gmm.{safetensors,json}`` stored as
   float16 (exact: every value is a float16), removing the task's fixed-rate cheng2020-gmm
   checkpoints it replaces.
2. Measures every quality (1..6) on DIR, a folder generated from a seed never trained on,
   beside JPEG 2000 at the same payload rates (and on the real samples under ROOT), writes
   ``bpp_qN``, ``payload_bpp_qN`` and ``psnr_db_qN`` into the manifest (``--bpp`` targets and
   the satellite's codec choice read them) and the whole comparison to
   ``docs/results/campaign/TASK.json`` (the format of ``eodl evaluate codec --json``, plus
   ``bpp_targets``: how close ``--bpp`` targets between the qualities land, scene by scene).

``--measure-only`` does step 2 alone, on the checkpoint already shipped (after a change to the
measurement or to rate control, not to the weights). Both add the reference points (band means
and 16 x 16 block means, :mod:`workbench.experiments.references`) of each scene set as
``references``; ``--references-only`` adds them alone to an existing ``TASK.json``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict, replace
from pathlib import Path

import torch

from shared.codecs.learned.checkpoint import load_checkpoint, save_checkpoint
from shared.codecs.learned.manifest import read_manifest, write_manifest
from workbench.training.evaluate import shipped_codec_root

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from snapshot import snapshot  # noqa: E402

NAME = "cheng2020-gmm"


def ship(task: str, source: Path, command: str) -> Path:
    """Write the float16 checkpoint for ``task``; returns its path (NAME, no suffix)."""
    model, manifest = load_checkpoint(source)
    if not manifest.rate_lmbdas:
        raise SystemExit(f"{source} is a fixed-rate checkpoint; ship a variable-rate one")
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())
    folder = shipped_codec_root(task)
    for old in folder.glob(f"{NAME}-q*.*"):
        old.unlink()
    dest = folder / NAME
    fields = {k: v for k, v in asdict(manifest).items() if k not in {"bands", "N", "M", "sha256"}}
    fields["command"] = f"{manifest.command} && {command}"
    save_checkpoint(model.eval(), dest, fields)  # update(force=True): tables from the rounded
    snapshot(str(dest))
    return dest


def measure(task: str, dest: Path, heldout: Path, real: Path | None, limit: int) -> dict:
    """Every quality on the held-out folder (and real samples) beside JPEG 2000."""
    from workbench.training.codec_report import REFERENCE, comparison_json, evaluate_codec

    comparisons = evaluate_codec(NAME, heldout, dest.parent, limit, real)
    manifest_path = dest.with_suffix(".json")
    manifest = read_manifest(manifest_path)
    metrics = dict(manifest.metrics)
    for point in comparisons[0].points:
        for key in ("bpp", "payload_bpp", "psnr_db"):
            metrics[f"{key}_q{point['quality']}"] = float(point[key])
    metrics["heldout_scenes"] = float(comparisons[0].points[0]["scenes"])
    write_manifest(replace(manifest, metrics=metrics), manifest_path)
    return {
        "task": task,
        "checkpoint": str(dest.relative_to(REPO)),
        "label": f"{NAME} N={manifest.N} M={manifest.M} variable rate",
        "heldout": str(heldout),
        **comparison_json(comparisons, REFERENCE),
        "bpp_targets": bpp_targets(task, dest, heldout, limit, comparisons[0].points),
    }


def bpp_targets(task: str, dest: Path, heldout: Path, limit: int, points: list) -> list:
    """``--bpp`` accuracy at the geometric middles between neighbouring qualities."""
    from workbench.training.codec_report import bpp_accuracy
    from workbench.training.codec_report import heldout as heldout_scenes
    from workbench.training.evaluate import isolated_store

    rates = sorted(p["payload_bpp"] for p in points)
    middles = [round((a * b) ** 0.5, 4) for a, b in zip(rates, rates[1:], strict=False)]
    with isolated_store(dest) as store:
        return bpp_accuracy(NAME, task, heldout_scenes(heldout, limit), middles[::2], store)


def references(task: str, heldout: Path, real: Path | None, limit: int) -> list[dict]:
    """Band-mean and 16 x 16 block-mean points of each scene set, tagged with the set."""
    from shared.sensors.profiles import get_profile
    from workbench.experiments.references import reference_rows
    from workbench.training.codec_report import heldout as heldout_scenes
    from workbench.training.codec_report import real as real_scenes

    sets = [("held-out", heldout_scenes(heldout, limit))]
    if real is not None:
        sets.append(("real", real_scenes(real, task)))
    profile = get_profile(task)
    return [
        {**row, "set": name}
        for name, scenes in sets
        for row in reference_rows(task, scenes(), profile)
    ]


def main() -> None:
    """Parse the arguments, ship, measure and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=("fire", "cloud", "building"))
    parser.add_argument("source", type=Path, nargs="?")
    parser.add_argument("--measure-only", action="store_true")
    parser.add_argument("--references-only", action="store_true")
    parser.add_argument("--heldout", type=Path, required=True)
    parser.add_argument("--real", type=Path)
    parser.add_argument("--limit", type=int, default=32)
    args = parser.parse_args()
    out = REPO / "docs" / "results" / "campaign" / f"{args.task}.json"
    if args.references_only:
        results = json.loads(out.read_text())
        results["references"] = references(args.task, args.heldout, args.real, args.limit)
        out.write_text(json.dumps(results, indent=1) + "\n")
        return
    if (args.source is None) != args.measure_only:
        parser.error("give SOURCE to ship, or --measure-only to measure what is shipped")
    command = "python scripts/campaign/ship.py " + shlex.join(sys.argv[1:])
    if args.measure_only:
        dest = shipped_codec_root(args.task) / NAME
    else:
        dest = ship(args.task, args.source, command)
    results = measure(args.task, dest, args.heldout, args.real, args.limit)
    results["references"] = references(args.task, args.heldout, args.real, args.limit)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results["bd"], indent=1))


if __name__ == "__main__":
    main()
