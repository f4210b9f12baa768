"""Training a learned codec at one rate point: L = lambda * MSE + R, then real-bitstream evaluation.

The best-validation-loss weights are kept; after training ``update()`` builds the entropy
coder's tables and the validation scenes are entropy-coded for real, so the manifest reports the
bpp of actual bytes next to the estimate from the likelihoods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shared.errors import ConfigurationError
from shared.models.segmentation import pad_to_multiple
from workbench.training.data import describe_data, load_splits, mask_batch
from workbench.training.ddp import DistContext, init_distributed, unwrap
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
from workbench.training.rd import RDTerms, aux_parameter_names, codec_optimisers, rd_terms
from workbench.training.task_term import TaskTerm, load_task_term

CODEC_PAD = 64  # cheng2020 latents: y at 1/16, z at 1/64 of the input side


@dataclass(frozen=True)
class CodecTrainConfig:
    """Everything a codec run depends on (recorded in the manifest)."""

    task: str
    data: Path
    out: Path
    model: str = "cheng2020-gmm"
    quality: int = 3
    lmbda: float = 1000.0
    N: int | None = None
    M: int | None = None
    epochs: int = 100
    batch_size: int = 8
    lr: float = 1e-3
    aux_lr: float = 1e-4
    clip_norm: float = 1.0
    patience: int = 10
    max_minutes: float | None = None
    max_steps: int | None = None
    crop: int | None = None
    init: Path | None = None
    eval_limit: int | None = None
    seed: int = 0
    device: str | None = None
    resume: bool = False
    command: str = ""
    progress: bool = True
    rate_lmbdas: tuple[float, ...] = ()
    segmenter: Path | None = None
    task_weight: float = 0.0
    task_target: str = "mask"

    def lmbda_at(self, level: int | None) -> float:
        """The lambda of a rate level (``lmbda`` for a fixed-rate run)."""
        return self.lmbda if level is None else self.rate_lmbdas[level]


def codec_step(
    model: nn.Module, x: torch.Tensor, lmbda: float, level: int | None = None
) -> tuple[RDTerms, torch.Tensor]:
    """Forward a batch padded to the codec's multiple; the loss counts only the real pixels.

    ``level``: the rate level of a variable-rate model (None: fixed rate).

    Shape:
        x: (B, C, H, W) in [0, 1]; returns the terms and x_hat (B, C, H, W), cropped.
    """
    height, width = x.shape[-2:]
    padded = pad_to_multiple(x, CODEC_PAD)
    output = model(padded) if level is None else model(padded, level=level)
    cropped = {"x_hat": output["x_hat"][..., :height, :width], "likelihoods": output["likelihoods"]}
    return rd_terms(cropped, x, lmbda), cropped["x_hat"]


def batch_loss(
    model: nn.Module,
    x: torch.Tensor,
    mask: torch.Tensor,
    lmbda: float,
    level: int | None,
    task_term: TaskTerm | None,
) -> tuple[torch.Tensor, RDTerms, torch.Tensor | None]:
    """(loss, rate-distortion terms, task loss) of a batch: lambda * MSE + R, plus
    lambda * weight * the frozen segmenter's loss when the run is task-aware."""
    terms, x_hat = codec_step(model, x, lmbda, level)
    if task_term is None:
        return terms.loss, terms, None
    task = task_term.loss(x_hat, task_term.target_mask(x, mask_batch(mask)))
    return terms.loss + lmbda * task_term.weight * task, terms, task


def _train_epoch(
    model: nn.Module,
    loader: Any,
    optimisers: tuple[Any, Any],
    aux_params: list,
    config: CodecTrainConfig,
    ctx: DistContext,
    budget: Budget,
    desc: str,
    epoch: int,
    task_term: TaskTerm | None = None,
) -> tuple[float, bool]:
    main_opt, aux_opt = optimisers
    bar = Progress(loader, desc, enabled=ctx.is_main)
    total, steps, expired = 0.0, 0, False
    levels = _level_sampler(config, epoch)
    for x, mask in bar:
        level = levels()
        loss, terms, _ = batch_loss(
            model, x.to(ctx.device), mask.to(ctx.device), config.lmbda_at(level), level, task_term
        )
        main_opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip_norm > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        main_opt.step()
        aux_opt.zero_grad(set_to_none=True)
        unwrap(model).aux_loss().backward()
        ctx.average_grads(aux_params)
        aux_opt.step()
        total, steps = total + loss.item(), steps + 1
        bar.show(loss=total / steps, bpp=terms.bpp.detach().item(), psnr_db=terms.psnr_db)
        expired = ctx.broadcast_flag(budget.expired())  # rank 0's clock decides for all
        if expired or (config.max_steps is not None and steps >= config.max_steps):
            break
    bar.close()
    return total / max(steps, 1), expired


def _level_sampler(config: CodecTrainConfig, epoch: int) -> Callable[[], int | None]:
    """Each step's rate level: uniform over the levels of a variable-rate run, a function of
    (seed, epoch) so that every rank and a resumed run draw the same; None at fixed rate."""
    if not config.rate_lmbdas:
        return lambda: None
    generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    count = len(config.rate_lmbdas)
    return lambda: int(torch.randint(count, (1,), generator=generator))


def validation_levels(config: CodecTrainConfig) -> tuple[int | None, ...]:
    """The levels validated each epoch: the two ends and the middle of a variable-rate run."""
    count = len(config.rate_lmbdas)
    return (None,) if count == 0 else tuple(sorted({0, count // 2, count - 1}))


def validate_codec(
    model: nn.Module,
    loader: Any,
    lmbda: float,
    ctx: DistContext,
    level: int | None = None,
    task_term: TaskTerm | None = None,
) -> dict[str, float]:
    """Mean loss, estimated bpp and MSE (and the task loss of a task-aware run) over a loader
    (quantised latents; all ranks pooled)."""
    sums = torch.zeros(5, dtype=torch.float64)
    model.eval()
    with torch.inference_mode():
        for x, mask in loader:
            loss, terms, task = batch_loss(
                model, x.to(ctx.device), mask.to(ctx.device), lmbda, level, task_term
            )
            n = x.shape[0]
            figures = (loss, terms.bpp, terms.mse, 0.0 if task is None else task)
            sums += torch.tensor([float(f) * n for f in figures] + [n], dtype=torch.float64)
    model.train()
    sums = ctx.all_sum(sums)
    count = max(float(sums[4]), 1.0)
    out = {
        "loss": float(sums[0]) / count,
        "bpp_estimate": float(sums[1]) / count,
        "mse": float(sums[2]) / count,
    }
    if task_term is not None:
        out["task_loss"] = float(sums[3]) / count
    return out


def _validate_levels(
    model: nn.Module,
    loader: Any,
    config: CodecTrainConfig,
    ctx: DistContext,
    task_term: TaskTerm | None = None,
) -> dict[str, float]:
    """Validation at the run's rate point, or at the validated levels of a variable-rate run:
    their mean loss, and each level's estimated bpp and MSE (``bpp_estimate_L<k>``, ...) and
    task loss (``task_loss_L<k>``, task-aware runs)."""
    levels = validation_levels(config)
    if levels == (None,):
        return validate_codec(model, loader, config.lmbda, ctx, task_term=task_term)
    out: dict[str, float] = {"loss": 0.0}
    for level in levels:
        val = validate_codec(model, loader, config.lmbda_at(level), ctx, level, task_term)
        out["loss"] += val["loss"] / len(levels)
        for name in ("bpp_estimate", "mse", "task_loss"):
            if name in val:
                out[f"{name}_L{level}"] = val[name]
    return out


def _val_text(val: dict[str, float]) -> str:
    if "bpp_estimate" in val:
        return f"bpp~{val['bpp_estimate']:.4f} mse {val['mse']:.3g}" + _bce_text(val, "")
    levels = sorted(k.removeprefix("mse_L") for k in val if k.startswith("mse_L"))
    return " ".join(
        f"L{k}: bpp~{val[f'bpp_estimate_L{k}']:.4f} mse {val[f'mse_L{k}']:.3g}"
        + _bce_text(val, f"_L{k}")
        for k in levels
    )


def _bce_text(val: dict[str, float], suffix: str) -> str:
    key = f"task_loss{suffix}"
    return f" task {val[key]:.4f}" if key in val else ""


def train_codec(config: CodecTrainConfig) -> dict[str, Any]:
    """Train one rate point and write its checkpoint; return the manifest."""
    ctx = init_distributed(config.device)
    # The process group outlives the run: a second trainer in the same torchrun process
    # joins it again instead of re-creating it (a re-created group can deadlock).
    return _train(config, ctx)


@dataclass
class _Run:
    """What a codec run carries across epochs (and across a resume)."""

    stopper: EarlyStopping
    budget: Budget
    start_epoch: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    best_val: dict[str, float] = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)


def _warm_start(config: CodecTrainConfig, net: nn.Module) -> None:
    """Start from another rate point's weights (same architecture and widths), as CompressAI
    fine-tunes high-lambda models from lower ones; a cheng2020-gmm with fewer latent channels
    is widened (:mod:`workbench.training.widen`)."""
    from shared.codecs.learned.checkpoint import load_checkpoint
    from shared.errors import CheckpointError

    source, manifest = load_checkpoint(config.init)  # type: ignore[arg-type]
    if (manifest.architecture, manifest.N) == (config.model, net.N) and manifest.M < net.M:
        from workbench.training.widen import widen_latents

        widen_latents(source, net)  # a narrower-M start: same function, more latent channels
        return
    if (manifest.architecture, manifest.N, manifest.M) != (config.model, net.N, net.M):
        raise CheckpointError(
            f"--init {config.init} is {manifest.architecture} N={manifest.N} M={manifest.M}; "
            f"this run trains {config.model} N={net.N} M={net.M}: pass a matching checkpoint "
            "(or, for cheng2020-gmm, one with the same N and a smaller M, which is widened)"
        )
    weights = source.state_dict()
    extended = _fewer_levels(source, net)
    if extended:  # a variable-rate start for a run with more (lower-rate) levels
        _check_level_prefix(config, tuple(manifest.rate_lmbdas))
        net.rate_gains.extend_from(source.rate_gains, config.rate_lmbdas)  # type: ignore[union-attr,operator]
        weights = {k: v for k, v in weights.items() if not k.startswith("rate_gains.")}
    missing, unexpected = net.load_state_dict(weights, strict=False)
    if unexpected or any(not name.startswith("rate_gains.") for name in missing):
        raise CheckpointError(
            f"--init {config.init} does not fit this model: missing {missing}, "
            f"unexpected {unexpected}"
        )
    if missing and not extended:  # a fixed-rate start: spread its levels over the rates
        net.rate_gains.spread(config.rate_lmbdas)  # type: ignore[union-attr,operator]


def _fewer_levels(source: nn.Module, net: nn.Module) -> bool:
    """Both models are variable-rate and the source has fewer levels."""
    theirs, ours = getattr(source, "rate_gains", None), getattr(net, "rate_gains", None)
    return theirs is not None and ours is not None and theirs.levels < ours.levels


def _check_level_prefix(config: CodecTrainConfig, trained: tuple[float, ...]) -> None:
    """Levels are added below the trained ones only: the run's first lambdas are the start's."""
    from shared.errors import CheckpointError

    if tuple(config.rate_lmbdas[: len(trained)]) != trained:
        raise CheckpointError(
            f"--init {config.init} was trained at lambdas {list(trained)}; a run with more "
            f"levels keeps those first and adds lower ones after them, got "
            f"{list(config.rate_lmbdas)}"
        )


def _restore(config: CodecTrainConfig, net: nn.Module, optimisers: tuple[Any, Any]) -> _Run:
    run = _Run(EarlyStopping(config.patience), Budget(config.max_minutes))
    saved = load_state(state_path(config.out)) if config.resume else None
    if saved is None:
        if config.init is not None:
            _warm_start(config, net)
        return run
    net.load_state_dict(saved["model"])
    optimisers[0].load_state_dict(saved["main_opt"])
    optimisers[1].load_state_dict(saved["aux_opt"])
    _set_lr(optimisers, config.lr, config.aux_lr)
    restore_rng(saved["rng"])
    run.stopper = EarlyStopping(config.patience, saved["best"], saved["stale"])
    run.budget.spent_s, run.start_epoch = saved["spent_s"], saved["epoch"] + 1
    run.best_state, run.best_val = saved["best_model"], saved["best_val"]
    run.losses = list(saved["losses"])
    return run


def _set_lr(optimisers: tuple[Any, Any], lr: float, aux_lr: float) -> None:
    """The command's rates win over the saved ones: a resume at a lower --lr is a decay stage."""
    for optimiser, rate in zip(optimisers, (lr, aux_lr), strict=True):
        for group in optimiser.param_groups:
            group["lr"] = rate


def _save_state(
    config: CodecTrainConfig, net: nn.Module, optimisers: tuple[Any, Any], epoch: int, run: _Run
) -> None:
    state = {
        "model": net.state_dict(),
        "main_opt": optimisers[0].state_dict(),
        "aux_opt": optimisers[1].state_dict(),
        "epoch": epoch,
        "best": run.stopper.best,
        "stale": run.stopper.stale,
        "spent_s": run.budget.elapsed_s(),
        "rng": rng_state(),
        "best_model": run.best_state,
        "best_val": run.best_val,
        "losses": run.losses,
    }
    save_state(state_path(config.out), state)


def _train(config: CodecTrainConfig, ctx: DistContext) -> dict[str, Any]:
    from shared.codecs.learned.architectures import build_model

    seed_everything(config.seed)
    splits = load_splits(config.data, config.task, crop=config.crop)
    net = build_model(
        config.model,
        splits.bands,
        config.quality,
        N=config.N,
        M=config.M,
        rate_levels=len(config.rate_lmbdas),
    )
    net = net.to(ctx.device)
    aux_names = aux_parameter_names(net)
    aux_params = [p for n, p in net.named_parameters() if n in set(aux_names)]
    model = ctx.wrap(net, ignore=aux_names)
    optimisers = codec_optimisers(net, config.lr, config.aux_lr)
    train_loader = make_loader(splits.train, config.batch_size, ctx, config.seed, shuffle=True)
    val_loader = make_loader(splits.val, config.batch_size, ctx, config.seed, shuffle=False)
    task_term = _task_term(config, ctx)
    run = _restore(config, net, optimisers)
    for epoch in range(run.start_epoch, config.epochs):
        set_epoch(train_loader, epoch, config.seed)
        desc = f"{config.task} {config.model} q{config.quality} lmbda {config.lmbda:g} "
        desc += f"epoch {epoch + 1}"
        loss, expired = _train_epoch(
            model,
            train_loader,
            optimisers,
            aux_params,
            config,
            ctx,
            run.budget,
            desc,
            epoch,
            task_term,
        )
        val = _validate_levels(model, val_loader, config, ctx, task_term)
        run.losses.append(loss)
        improved = run.stopper.update(-val["loss"])
        if improved:
            run.best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
            run.best_val = val
        log_line(
            ctx.is_main,
            f"{desc}: loss {loss:.4f} val loss {val['loss']:.4f} {_val_text(val)}"
            + (" (best)" if improved else ""),
        )
        if ctx.is_main:
            _save_state(config, net, optimisers, epoch, run)
        if expired or run.stopper.should_stop:
            break
    return _conclude(config, ctx, net, run)


def _task_term(config: CodecTrainConfig, ctx: DistContext) -> TaskTerm | None:
    """The frozen segmenter of a task-aware run (``--segmenter``), else None."""
    if config.segmenter is None:
        if config.task_weight:
            raise ConfigurationError("--task-weight needs --segmenter (the segmenter to keep)")
        return None
    return load_task_term(
        config.segmenter, config.task, config.task_weight, ctx.device, config.task_target
    )


def _conclude(
    config: CodecTrainConfig, ctx: DistContext, net: nn.Module, run: _Run
) -> dict[str, Any]:
    """Rank 0 writes and measures the best weights; every rank returns the manifest."""
    ctx.barrier()
    if run.best_state is not None:
        net.load_state_dict(run.best_state)
    manifest: dict[str, Any] = {}
    if ctx.is_main:
        manifest = _finish(
            net.cpu().eval(), config, run.budget, ctx.world_size, run.losses, run.best_val
        )
    ctx.barrier()
    if not manifest:  # the other ranks read what rank 0 wrote
        from shared.codecs.learned.checkpoint import checkpoint_paths
        from shared.codecs.learned.manifest import read_manifest

        manifest = read_manifest(checkpoint_paths(config.out)[1]).to_dict()
    return manifest


def _finish(
    net: nn.Module,
    config: CodecTrainConfig,
    budget: Budget,
    world_size: int,
    losses: list[float],
    val: dict[str, float],
) -> dict[str, Any]:
    """Write the checkpoint (``update()`` first), then measure real bpp on the validation scenes."""
    import dataclasses

    from shared.codecs.learned.checkpoint import checkpoint_paths, save_checkpoint
    from shared.codecs.learned.manifest import write_manifest
    from workbench.training.evaluate import measure_codec_checkpoint

    fields = {
        "architecture": config.model,
        "quality": config.quality,
        "lmbda": config.rate_lmbdas[0] if config.rate_lmbdas else config.lmbda,
        "rate_lmbdas": list(config.rate_lmbdas),
        "task": config.task,
        "trained": True,
        "data": describe_data(config.data),
        "seed": config.seed,
        "command": config.command,
    }
    manifest = save_checkpoint(net, config.out, fields)
    run_metrics = {
        "epochs": len(losses),
        "train_loss_first": losses[0] if losses else float("nan"),
        "train_loss_last": losses[-1] if losses else float("nan"),
        "train_seconds": round(budget.elapsed_s(), 1),
        "lr": config.lr,
        "aux_lr": config.aux_lr,
        "batch_size": config.batch_size,
        "processes": world_size,
        "torch_threads": torch.get_num_threads(),
    }
    if config.segmenter is not None:
        run_metrics["task_weight"] = config.task_weight
    if config.rate_lmbdas:  # entropy coding at a level is not wired yet: estimates only
        metrics = {**{k: v for k, v in val.items() if k != "loss"}, **run_metrics}
        manifest = dataclasses.replace(manifest, metrics=metrics)
        write_manifest(manifest, checkpoint_paths(config.out)[1])
        return manifest.to_dict()
    point = measure_codec_checkpoint(
        Path(config.out),
        config.model,
        config.quality,
        config.task,
        config.data,
        limit=config.eval_limit,
        split="val",
    )
    metrics = {
        "bpp": point["bpp"],
        "payload_bpp": point["payload_bpp"],
        "bits_per_sample": point["bits_per_sample"],
        "psnr_db": point["psnr_db"],
        "bpp_estimate": val.get("bpp_estimate", float("nan")),
        "val_scenes": point["scenes"],
        **run_metrics,
    }
    manifest = dataclasses.replace(manifest, metrics=metrics)
    write_manifest(manifest, checkpoint_paths(config.out)[1])
    return manifest.to_dict()
