"""Joint end-to-end training (paper, Eq. 1 and Appendix B): L = lambda * MSE + R + gamma * BCE.

Starts from a pretrained codec and a pretrained U-Net; three Adam optimisers (autoencoder,
entropy bottleneck quantiles at a lower rate, segmenter). The paper's two scenarios are
presets: a high-quality start (lambda 10, gamma 1e-3) and a low-quality start (lambda 10,
gamma 1e-2). Figures before and after are measured on real bitstreams of the validation scenes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shared.errors import CheckpointError, ConfigurationError
from shared.models.segmentation import (
    load_segmenter_checkpoint,
    pad_to_multiple,
    save_segmenter,
    unet_config_from_manifest,
)
from workbench.training.codec import codec_step
from workbench.training.data import describe_data, load_splits, mask_batch
from workbench.training.ddp import DistContext, init_distributed
from workbench.training.loops import Budget, EarlyStopping, make_loader, seed_everything, set_epoch
from workbench.training.progress import Progress, log_line
from workbench.training.rd import aux_parameter_names, codec_optimisers
from workbench.training.thresholds import ProbabilityHistogram

SCENARIOS: dict[str, tuple[float, float]] = {
    "high-quality": (10.0, 1e-3),
    "low-quality": (10.0, 1e-2),
}


@dataclass(frozen=True)
class JointTrainConfig:
    """Everything a joint run depends on (recorded in ``report.json``)."""

    task: str
    data: Path
    codec: Path
    segmenter: Path
    out: Path
    lmbda: float = 10.0
    gamma: float = 1e-3
    scenario: str = "custom"
    epochs: int = 20
    batch_size: int = 8
    lr: float = 1e-4
    aux_lr: float = 1e-5
    seg_lr: float = 1e-4
    clip_norm: float = 1.0
    patience: int = 5
    max_minutes: float | None = None
    max_steps: int | None = None
    eval_limit: int | None = None
    quality: int | None = None
    crop: int | None = None
    seed: int = 0
    device: str | None = None
    command: str = ""


def scenario_weights(name: str) -> tuple[float, float]:
    """(lambda, gamma) of a paper scenario; an unknown name lists the valid ones."""
    if name not in SCENARIOS:
        raise ConfigurationError(f"unknown scenario {name!r}; valid: {', '.join(SCENARIOS)}")
    return SCENARIOS[name]


def joint_terms(
    codec: nn.Module,
    unet: nn.Module,
    x: torch.Tensor,
    mask: torch.Tensor,
    lmbda: float,
    gamma: float,
    level: float | None = None,
) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
    """(loss, figures, segmenter probabilities) of a batch through codec then segmenter.

    ``level``: the rate level a variable-rate codec runs at (None: a fixed-rate codec).

    Shape:
        x: (B, C, H, W) in [0, 1]; mask: (B, H, W) 0/1; probabilities (B, H, W).
    """
    height, width = x.shape[-2:]
    rd, x_hat = codec_step(codec, x, lmbda, level)
    logits = unet(pad_to_multiple(x_hat.clamp(0, 1)))[:, 0, :height, :width]
    bce = nn.functional.binary_cross_entropy_with_logits(logits, mask.float())
    loss = rd.loss + gamma * bce
    figures = {
        "loss": loss.detach().item(),
        "bpp": rd.bpp.detach().item(),
        "psnr_db": rd.psnr_db,
        "bce": bce.detach().item(),
    }
    return loss, figures, torch.sigmoid(logits.detach())


def measure_pair(
    codec_ckpt: Path, segmenter_ckpt: Path, config: JointTrainConfig
) -> dict[str, Any]:
    """bpp, PSNR (real bitstreams) and F1 (segmenter on the decoded scenes), validation split."""
    from shared.codecs.base import RateTarget
    from shared.codecs.learned.checkpoint import checkpoint_paths
    from shared.codecs.learned.manifest import read_manifest
    from workbench.training.evaluate import isolated_store, measure_rate_point

    manifest = read_manifest(checkpoint_paths(codec_ckpt)[1])
    segmenter = load_segmenter_checkpoint(segmenter_ckpt, device="cpu")
    with isolated_store(Path(codec_ckpt)) as store:
        point = measure_rate_point(
            manifest.architecture,
            config.task,
            config.data,
            RateTarget(quality=config.quality or manifest.quality),
            checkpoints=store,
            limit=config.eval_limit,
            split="val",
            segmenter=segmenter,
        )
    keys = ("bpp", "payload_bpp", "psnr_db", "f1_positive", "f1_macro", "scenes")
    return {k: point[k] for k in keys}


def _load_pair(config: JointTrainConfig, ctx: DistContext) -> tuple[nn.Module, Any, Any, Any]:
    from shared.codecs.learned.checkpoint import load_checkpoint

    codec_net, codec_manifest = load_checkpoint(config.codec)
    if codec_manifest.task not in (config.task, None):
        raise CheckpointError(
            f"codec {config.codec} was trained for {codec_manifest.task!r}, "
            f"not {config.task!r}; pass a {config.task} codec checkpoint"
        )
    segmenter = load_segmenter_checkpoint(config.segmenter, device=ctx.device)
    if segmenter.task != config.task:
        raise CheckpointError(
            f"segmenter {config.segmenter} is for {segmenter.task!r}, "
            f"not {config.task!r}; pass a {config.task} segmenter"
        )
    _check_quality(config, codec_manifest)
    return codec_net.to(ctx.device).train(), codec_manifest, segmenter.model.train(), segmenter


def _check_quality(config: JointTrainConfig, manifest: Any) -> None:
    """A variable-rate codec needs the quality it is trained at; a fixed-rate one has its own."""
    if manifest.rate_lmbdas and config.quality is None:
        raise ConfigurationError(
            f"{config.codec} is a variable-rate codec: pass --quality 1..6 (the rate level "
            "joint training runs at, 6 the highest rate)"
        )
    if not manifest.rate_lmbdas and config.quality not in (None, manifest.quality):
        raise ConfigurationError(
            f"{config.codec} is a fixed-rate codec of quality {manifest.quality}; drop --quality"
        )


def training_level(config: JointTrainConfig, manifest: Any) -> float | None:
    """The continuous rate level of ``config.quality`` for a variable-rate codec, else None."""
    from shared.codecs.learned.rate_gain import LEVEL_STEPS, level_code

    if not manifest.rate_lmbdas or config.quality is None:
        return None
    return level_code(config.quality, len(manifest.rate_lmbdas)) / LEVEL_STEPS


def _epoch(
    models: tuple[nn.Module, nn.Module],
    loader: Any,
    optimisers: tuple[Any, ...],
    aux_params: list,
    config: JointTrainConfig,
    ctx: DistContext,
    budget: Budget,
    desc: str,
    level: float | None = None,
) -> bool:
    codec, unet = models
    main_opt, aux_opt, seg_opt = optimisers
    bar = Progress(loader, desc, enabled=ctx.is_main)
    expired, steps = False, 0
    for x, mask in bar:
        loss, figures, _ = joint_terms(
            codec,
            unet,
            x.to(ctx.device),
            mask_batch(mask).to(ctx.device),
            config.lmbda,
            config.gamma,
            level,
        )
        main_opt.zero_grad(set_to_none=True)
        seg_opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip_norm > 0:
            nn.utils.clip_grad_norm_(codec.parameters(), config.clip_norm)
        main_opt.step()
        seg_opt.step()
        aux_opt.zero_grad(set_to_none=True)
        getattr(codec, "module", codec).aux_loss().backward()
        ctx.average_grads(aux_params)
        aux_opt.step()
        steps += 1
        bar.show(**figures)
        expired = ctx.broadcast_flag(budget.expired())  # rank 0's clock decides for all
        if expired or (config.max_steps is not None and steps >= config.max_steps):
            break
    bar.close()
    return expired


def _validate(
    models: tuple[nn.Module, nn.Module],
    loader: Any,
    config: JointTrainConfig,
    ctx: DistContext,
    level: float | None = None,
) -> tuple[float, ProbabilityHistogram]:
    codec, unet = models
    histogram, sums = ProbabilityHistogram(), torch.zeros(2, dtype=torch.float64)
    codec.eval(), unet.eval()
    with torch.inference_mode():
        for x, mask in loader:
            m = mask_batch(mask)
            _, figures, probs = joint_terms(
                codec, unet, x.to(ctx.device), m.to(ctx.device), config.lmbda, config.gamma, level
            )
            histogram.add(probs, m)
            sums += torch.tensor([figures["loss"] * x.shape[0], x.shape[0]], dtype=torch.float64)
    codec.train(), unet.train()
    sums, histogram.counts = ctx.all_sum(sums), ctx.all_sum(histogram.counts)
    return float(sums[0] / sums[1].clamp(min=1)), histogram


def train_joint(config: JointTrainConfig) -> dict[str, Any]:
    """Fine-tune codec and segmenter together; write both checkpoints and ``report.json``
    (figures before and after) into ``config.out``; return the report."""
    ctx = init_distributed(config.device)
    # The process group outlives the run: a second trainer in the same torchrun process
    # joins it again instead of re-creating it (a re-created group can deadlock).
    return _train(config, ctx)


def _train(config: JointTrainConfig, ctx: DistContext) -> dict[str, Any]:
    seed_everything(config.seed)
    out = Path(config.out)
    before = measure_pair(config.codec, config.segmenter, config) if ctx.is_main else {}
    splits = load_splits(config.data, config.task, crop=config.crop)
    codec_net, codec_manifest, unet_net, segmenter = _load_pair(config, ctx)
    level = training_level(config, codec_manifest)
    aux_names = aux_parameter_names(codec_net)
    aux_params = [p for n, p in codec_net.named_parameters() if n in set(aux_names)]
    models = (ctx.wrap(codec_net, ignore=aux_names), ctx.wrap(unet_net))
    main_opt, aux_opt = codec_optimisers(codec_net, config.lr, config.aux_lr)
    seg_opt = torch.optim.Adam(unet_net.parameters(), lr=config.seg_lr)
    train_loader = make_loader(splits.train, config.batch_size, ctx, config.seed, shuffle=True)
    val_loader = make_loader(splits.val, config.batch_size, ctx, config.seed, shuffle=False)
    stopper, budget = EarlyStopping(config.patience), Budget(config.max_minutes)
    best: tuple[dict, dict, float] | None = None
    for epoch in range(config.epochs):
        set_epoch(train_loader, epoch, config.seed)
        desc = (
            f"joint {config.task} lmbda {config.lmbda:g} gamma {config.gamma:g} epoch {epoch + 1}"
        )
        expired = _epoch(
            models,
            train_loader,
            (main_opt, aux_opt, seg_opt),
            aux_params,
            config,
            ctx,
            budget,
            desc,
            level,
        )
        val_loss, histogram = _validate(models, val_loader, config, ctx, level)
        choice = histogram.best()
        if stopper.update(-val_loss):
            best = (
                {k: v.detach().cpu().clone() for k, v in codec_net.state_dict().items()},
                {k: v.detach().cpu().clone() for k, v in unet_net.state_dict().items()},
                choice.threshold,
            )
        log_line(
            ctx.is_main, f"{desc}: val loss {val_loss:.4f} f1_positive {choice.f1_positive:.4f}"
        )
        if expired or stopper.should_stop:
            break
    ctx.barrier()
    report: dict[str, Any] = {}
    if ctx.is_main and best is not None:
        report = _write_outputs(
            out, best, codec_net, codec_manifest, unet_net, segmenter, config, before, budget
        )
    ctx.barrier()
    return report


def _write_outputs(
    out: Path,
    best: tuple[dict, dict, float],
    codec_net: nn.Module,
    codec_manifest: Any,
    unet_net: nn.Module,
    segmenter: Any,
    config: JointTrainConfig,
    before: dict[str, Any],
    budget: Budget,
) -> dict[str, Any]:
    from shared.codecs.learned.checkpoint import save_checkpoint

    out.mkdir(parents=True, exist_ok=True)
    codec_net.load_state_dict(best[0])
    unet_net.load_state_dict(best[1])
    fields = {
        "architecture": codec_manifest.architecture,
        "quality": codec_manifest.quality,
        "lmbda": config.lmbda,
        "task": config.task,
        "trained": True,
        "data": describe_data(config.data),
        "seed": config.seed,
        "command": config.command,
    }
    if codec_manifest.rate_lmbdas:
        fields["rate_lmbdas"] = list(codec_manifest.rate_lmbdas)
    save_checkpoint(codec_net.cpu().eval(), out / "codec", fields)
    seg_fields = {
        k: v
        for k, v in segmenter.manifest.items()
        if k
        not in (
            "sha256",
            "weights_file",
            "kind",
            "architecture",
            "encoder",
            "bands",
            "encoder_depth",
            "decoder_channels",
        )
    }
    seg_fields.update(
        {
            "threshold": best[2],
            "command": config.command,
            "data": describe_data(config.data),
            "joint": {"lmbda": config.lmbda, "gamma": config.gamma},
        }
    )
    save_segmenter(
        unet_net.cpu().eval(),
        out / "segmenter",
        unet_config_from_manifest(segmenter.manifest),
        seg_fields,
    )
    after = measure_pair(out / "codec", out / "segmenter", config)
    seg_fields["metrics"] = {
        "f1_positive": after["f1_positive"],
        "f1_macro": after["f1_macro"],
        "split": "validation, on decoded joint-codec output",
    }
    save_segmenter(
        unet_net, out / "segmenter", unet_config_from_manifest(segmenter.manifest), seg_fields
    )
    report = {
        "scenario": config.scenario,
        "lmbda": config.lmbda,
        "gamma": config.gamma,
        "before": before,
        "after": after,
        "seconds": round(budget.elapsed_s(), 1),
        "config": {k: str(v) for k, v in asdict(config).items()},
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
