"""Training a U-Net segmenter: BCE with logits, Adam, augmentation, early stopping on validation F1.

The decision threshold is chosen on validation data after every epoch and stored in the manifest
with the validation F1 it gives, so inference uses exactly what was measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shared.errors import ConfigurationError
from shared.models.segmentation import (
    DEFAULT_DECODER_CHANNELS,
    UnetConfig,
    build_unet,
    load_segmenter_checkpoint,
    save_segmenter,
    unet_config_from_manifest,
)
from shared.models.weights import checkpoint_paths, read_manifest
from workbench.training.data import describe_data, load_splits, mask_batch
from workbench.training.ddp import DistContext, init_distributed, unwrap
from workbench.training.decoded import DecodedShare
from workbench.training.loops import (
    Budget,
    EarlyStopping,
    load_state,
    make_loader,
    restore_rng,
    rng_state,
    save_state,
    seed_everything,
    set_epoch,
    state_path,
)
from workbench.training.progress import Progress, log_line
from workbench.training.thresholds import ProbabilityHistogram, ThresholdChoice


@dataclass(frozen=True)
class SegmenterTrainConfig:
    """Everything a segmenter run depends on (recorded in the manifest)."""

    task: str
    data: Path
    out: Path
    encoder: str = "resnet34"
    encoder_depth: int = 5
    decoder_channels: tuple[int, ...] = DEFAULT_DECODER_CHANNELS
    epochs: int = 50
    batch_size: int = 16
    lr: float = 1e-3
    patience: int = 8
    pos_weight: float = 1.0
    max_minutes: float | None = None
    max_steps: int | None = None
    crop: int | None = None
    seed: int = 0
    device: str | None = None
    resume: bool = False
    half: bool = False
    decoded_with: Path | None = None
    decoded_fraction: float = 0.5
    decoded_qualities: tuple[int, int] = (1, 6)
    init: Path | None = None
    command: str = ""
    progress: bool = True


def evaluate_probabilities(model: nn.Module, loader: Any, ctx: DistContext) -> ProbabilityHistogram:
    """Run a model over a loader and histogram its probabilities by true class (all ranks)."""
    histogram = ProbabilityHistogram()
    model.eval()
    with torch.inference_mode():
        for x, mask in loader:
            probs = torch.sigmoid(model(x.to(ctx.device)))[:, 0]
            histogram.add(probs, mask_batch(mask))
    model.train()
    histogram.counts = ctx.all_sum(histogram.counts)
    return histogram


def _train_epoch(
    model: nn.Module,
    loader: Any,
    optimiser: torch.optim.Optimizer,
    loss_fn: nn.Module,
    ctx: DistContext,
    budget: Budget,
    desc: str,
    max_steps: int | None,
    best_f1: float = float("nan"),
) -> tuple[float, bool]:
    """One pass over the training shard; returns (mean loss, budget ran out).

    The bar shows the running loss and the best validation F1 of the positive class so far.
    """
    bar = Progress(loader, desc, enabled=ctx.is_main)
    total, steps, expired = 0.0, 0, False
    for x, mask in bar:
        logits = model(x.to(ctx.device))[:, 0]
        loss = loss_fn(logits, mask_batch(mask).to(ctx.device).float())
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        total, steps = total + loss.item(), steps + 1
        bar.show(loss=total / steps, best_val_f1_positive=best_f1)
        expired = ctx.broadcast_flag(budget.expired())  # rank 0's clock decides for all
        if expired or (max_steps is not None and steps >= max_steps):
            break
    bar.close()
    return total / max(steps, 1), expired


def _manifest_fields(
    config: SegmenterTrainConfig,
    choice: ThresholdChoice,
    epoch: int,
    budget: Budget,
    world_size: int,
    losses: list[float],
) -> dict[str, Any]:
    return {
        "task": config.task,
        "threshold": choice.threshold,
        "metrics": {
            "f1_positive": choice.f1_positive,
            "f1_macro": choice.f1_macro,
            "split": "validation",
        },
        "data": describe_data(config.data),
        "seed": config.seed,
        "command": config.command,
        "trained": {
            "epochs": epoch + 1,
            "seconds": round(budget.elapsed_s(), 1),
            "lr": config.lr,
            "batch_size": config.batch_size,
            "pos_weight": config.pos_weight,
            "processes": world_size,
            "torch_threads": torch.get_num_threads(),
            "train_loss_per_epoch": [round(v, 6) for v in losses],
        },
        "loss": "bce-with-logits",
        "decoded_share": _describe_share(config),
        "init": _describe_init(config),
    }


def _describe_init(config: SegmenterTrainConfig) -> dict[str, str] | None:
    """The checkpoint a run started from (``--init``), named by its weights' hash."""
    if config.init is None:
        return None
    return {"checkpoint": str(config.init), "sha256": read_manifest(config.init)["sha256"]}


def train_segmenter(config: SegmenterTrainConfig) -> dict[str, Any]:
    """Train, keep the best-validation-F1 weights at ``config.out``; return its manifest."""
    ctx = init_distributed(config.device)
    # The process group outlives the run: a second trainer in the same torchrun process
    # joins it again instead of re-creating it (a re-created group can deadlock).
    return _train(config, ctx)


def _restore(
    config: SegmenterTrainConfig, net: nn.Module, optimiser: torch.optim.Optimizer, budget: Budget
) -> tuple[EarlyStopping, int, list[float]]:
    """(early stopping, first epoch, epoch losses) from ``<out>.state.pt`` when resuming."""
    saved = load_state(state_path(config.out)) if config.resume else None
    if saved is None:
        return EarlyStopping(config.patience), 0, []
    net.load_state_dict(saved["model"])
    optimiser.load_state_dict(saved["optimiser"])
    budget.spent_s = saved["spent_s"]
    restore_rng(saved["rng"])
    stopper = EarlyStopping(config.patience, saved["best"], saved["stale"])
    return stopper, saved["epoch"] + 1, list(saved["losses"])


def _save_state(
    config: SegmenterTrainConfig,
    net: nn.Module,
    optimiser: torch.optim.Optimizer,
    epoch: int,
    stopper: EarlyStopping,
    budget: Budget,
    losses: list[float],
) -> None:
    state = {
        "model": net.state_dict(),
        "optimiser": optimiser.state_dict(),
        "epoch": epoch,
        "best": stopper.best,
        "stale": stopper.stale,
        "spent_s": budget.elapsed_s(),
        "rng": rng_state(),
        "losses": losses,
    }
    save_state(state_path(config.out), state)


def start_from(net: nn.Module, arch: UnetConfig, config: SegmenterTrainConfig) -> None:
    """Load ``config.init``'s weights into ``net`` (a U-Net of the same task and architecture).

    Raises:
        ConfigurationError: the checkpoint segments another task or is another U-Net.
    """
    start = load_segmenter_checkpoint(config.init, device="cpu")
    theirs = unet_config_from_manifest(start.manifest)
    if start.task != config.task or theirs != arch:
        raise ConfigurationError(
            f"--init {config.init} is a {start.task} U-Net ({theirs}); this run trains a "
            f"{config.task} U-Net ({arch}): pass the same task and --encoder, --encoder-depth "
            "and --decoder-channels as the checkpoint's manifest"
        )
    net.load_state_dict(start.model.state_dict())


def _decoded_share(config: SegmenterTrainConfig) -> DecodedShare | None:
    """The learned codec a share of the scenes is decoded by (``--decoded-with``), if any."""
    if config.decoded_with is None:
        return None
    from shared.sensors.profiles import get_profile

    scale = float(get_profile(config.task).global_max)
    return DecodedShare(
        Path(config.decoded_with), config.decoded_fraction, scale, config.decoded_qualities
    )


def _describe_share(config: SegmenterTrainConfig) -> dict[str, Any] | None:
    share = _decoded_share(config)
    return None if share is None else share.describe()


def _train(config: SegmenterTrainConfig, ctx: DistContext) -> dict[str, Any]:
    seed_everything(config.seed)
    decoded = _decoded_share(config)
    splits = load_splits(config.data, config.task, crop=config.crop, decoded=decoded)
    arch = UnetConfig(config.encoder, splits.bands, config.encoder_depth, config.decoder_channels)
    net = build_unet(arch)
    if config.init is not None:
        start_from(net, arch, config)
    net = net.to(ctx.device)
    model = ctx.wrap(net)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(config.pos_weight, device=ctx.device))
    train_loader = make_loader(splits.train, config.batch_size, ctx, config.seed, shuffle=True)
    val_loader = make_loader(splits.val, config.batch_size, ctx, config.seed, shuffle=False)
    budget = Budget(config.max_minutes)
    stopper, start_epoch, losses = _restore(config, net, optimiser, budget)
    manifest: dict[str, Any] = {}
    for epoch in range(start_epoch, config.epochs):
        set_epoch(train_loader, epoch, config.seed)
        desc = f"{config.task} {config.encoder} epoch {epoch + 1}/{config.epochs}"
        loss, expired = _train_epoch(
            model,
            train_loader,
            optimiser,
            loss_fn,
            ctx,
            budget,
            desc,
            config.max_steps,
            best_f1=stopper.best,
        )
        losses.append(loss)
        choice = evaluate_probabilities(model, val_loader, ctx).best()
        improved = stopper.update(choice.f1_positive)
        log_line(
            ctx.is_main,
            f"{desc}: loss {loss:.4f} val f1_positive {choice.f1_positive:.4f} "
            f"f1_macro {choice.f1_macro:.4f} threshold {choice.threshold}"
            + (" (best)" if improved else ""),
        )
        if ctx.is_main and improved:
            fields = _manifest_fields(config, choice, epoch, budget, ctx.world_size, losses)
            dtype = torch.float16 if config.half else None
            manifest = save_segmenter(unwrap(model), config.out, arch, fields, dtype=dtype)
        if ctx.is_main:
            _save_state(config, net, optimiser, epoch, stopper, budget, losses)
        if expired or stopper.should_stop:
            break
    ctx.barrier()
    if not manifest and checkpoint_paths(config.out)[1].is_file():
        manifest = read_manifest(config.out)
    return manifest
