"""`eodl train segmenter|codec|joint` and `eodl evaluate segmenter|codec`.

Training commands record themselves, with every option spelled out, in the checkpoint's
manifest (``command``), so any shipped checkpoint can be retrained exactly. Under
``torchrun --nproc-per-node K -m workbench.cli.main train ...`` they run as K DDP processes.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated, Any

import typer

from shared.errors import ConfigurationError

train_app = typer.Typer(
    help="Train segmenters, learned codecs, or both jointly.", no_args_is_help=True
)
evaluate_app = typer.Typer(
    help="Measure F1 of segmenters and rate-distortion of codecs.", no_args_is_help=True
)

Task = Annotated[str, typer.Option("--task", help="fire, cloud or building")]
Data = Annotated[Path, typer.Option("--data", help="folder written by `eodl data generate`")]
MaxMinutes = Annotated[float | None, typer.Option("--max-minutes", help="wall-clock budget")]
MaxSteps = Annotated[int | None, typer.Option("--max-steps", help="cap on steps per epoch")]
Crop = Annotated[int | None, typer.Option("--crop", help="train on random N x N windows")]
Seed = Annotated[int, typer.Option("--seed", help="seed of weights, data order, augmentation")]
Device = Annotated[
    str | None, typer.Option("--device", help="cuda or cpu (default: cuda if present)")
]
Threads = Annotated[
    int | None, typer.Option("--threads", help="torch CPU threads (default: torch's)")
]
Resume = Annotated[
    bool,
    typer.Option("--resume", help="continue from <out>.state.pt if present (at this --lr)"),
]
Json = Annotated[bool, typer.Option("--json", help="print one JSON value on stdout")]
CodecWeights = Annotated[
    Path | None,
    typer.Option(
        "--checkpoints",
        help="folder of learned codec weights, searched first (default: the task's shipped "
        "folder first; EODL_CHECKPOINTS and the other shipped folders follow)",
    ),
]


def recorded_command(ctx: typer.Context) -> str:
    """The running command with every option (defaults included), as the manifest records it."""
    parts = ctx.command_path.split()
    parts[0] = "eodl"
    for param in ctx.command.params:
        if param.name == "as_json":
            continue
        value = ctx.params.get(param.name or "")
        flag = param.opts[0] if param.opts else f"--{param.name}"
        if value is None or value is False:
            continue
        parts += [flag] if value is True else [flag, str(value)]
    return shlex.join(parts)


def _threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        if threads < 1:
            raise ConfigurationError(f"--threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)


def _quality_span(text: str) -> tuple[int, int]:
    """``LOW,HIGH`` container qualities (checked where they are used)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ConfigurationError(f"--decoded-qualities takes LOW,HIGH such as 4,6; got {text!r}")
    return int(parts[0]), int(parts[1])


def _widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise ConfigurationError(
            f"--decoder-channels takes integers like 64,32,16, got {text!r}"
        ) from exc


def _echo(value: Any, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(value) if as_json else text)


@train_app.command("segmenter")
def train_segmenter_cmd(
    ctx: typer.Context,
    task: Task,
    data: Data,
    out: Annotated[Path, typer.Option("--out", help="checkpoint path (NAME or NAME.safetensors)")],
    encoder: Annotated[
        str, typer.Option("--encoder", help="mobilenet_v2 or resnet34")
    ] = "resnet34",
    encoder_depth: Annotated[int, typer.Option("--encoder-depth", help="U-Net stages 1..5")] = 5,
    decoder_channels: Annotated[str, typer.Option("--decoder-channels")] = "256,128,64,32,16",
    epochs: Annotated[int, typer.Option("--epochs")] = 50,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 16,
    lr: Annotated[float, typer.Option("--lr")] = 1e-3,
    patience: Annotated[int, typer.Option("--patience", help="epochs without better val F1")] = 8,
    pos_weight: Annotated[
        float, typer.Option("--pos-weight", help="BCE weight of positives")
    ] = 1.0,
    half: Annotated[bool, typer.Option("--half", help="store weights as float16")] = False,
    decoded_with: Annotated[
        Path | None,
        typer.Option(
            "--decoded-with",
            help="a variable-rate cheng2020-gmm checkpoint: a share of the training and "
            "validation scenes come back as it decodes them, at random rate levels",
        ),
    ] = None,
    decoded_fraction: Annotated[
        float, typer.Option("--decoded-fraction", help="the share of decoded scenes, 0..1")
    ] = 0.5,
    decoded_qualities: Annotated[
        str,
        typer.Option(
            "--decoded-qualities",
            help="LOW,HIGH: decode between these container qualities (1..6), e.g. 4,6 for the "
            "rates a mission flies for segmentation",
        ),
    ] = "1,6",
    init: Annotated[
        Path | None,
        typer.Option(
            "--init",
            help="start from this segmenter checkpoint (same task and U-Net), e.g. the shipped "
            "one, to fine-tune it on a new codec's output",
        ),
    ] = None,
    max_minutes: MaxMinutes = None,
    max_steps: MaxSteps = None,
    crop: Crop = None,
    seed: Seed = 0,
    device: Device = None,
    threads: Threads = None,
    resume: Resume = False,
    as_json: Json = False,
) -> None:
    """Train a U-Net (BCE, Adam, flips/rot90, early stopping on validation F1)."""
    from workbench.training.segmenter import SegmenterTrainConfig, train_segmenter

    _threads(threads)
    config = SegmenterTrainConfig(
        task=task,
        data=data,
        out=out,
        encoder=encoder,
        encoder_depth=encoder_depth,
        decoder_channels=_widths(decoder_channels),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        patience=patience,
        pos_weight=pos_weight,
        max_minutes=max_minutes,
        max_steps=max_steps,
        crop=crop,
        seed=seed,
        device=device,
        resume=resume,
        half=half,
        decoded_with=decoded_with,
        decoded_fraction=decoded_fraction,
        decoded_qualities=_quality_span(decoded_qualities),
        init=init,
        command=recorded_command(ctx),
    )
    manifest = train_segmenter(config)
    if manifest:
        m = manifest["metrics"]
        _echo(
            manifest,
            as_json,
            f"{out}: val f1_positive {m['f1_positive']:.4f} "
            f"f1_macro {m['f1_macro']:.4f} threshold {manifest['threshold']}",
        )


@train_app.command("codec")
def train_codec_cmd(
    ctx: typer.Context,
    task: Task,
    data: Data,
    model: Annotated[str, typer.Option("--model", help="learned codec, e.g. cheng2020-gmm")],
    quality: Annotated[int, typer.Option("--quality", help="1..6; also the container's model id")],
    lmbda: Annotated[float, typer.Option("--lmbda", help="weight of MSE (on [0,1]) against bpp")],
    out: Annotated[Path, typer.Option("--out", help="checkpoint path (NAME or NAME.safetensors)")],
    n: Annotated[
        int | None, typer.Option("--N", help="transform width (default per quality)")
    ] = None,
    m: Annotated[int | None, typer.Option("--M", help="latent width (hyperprior models)")] = None,
    epochs: Annotated[int, typer.Option("--epochs")] = 100,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 8,
    lr: Annotated[float, typer.Option("--lr")] = 1e-3,
    aux_lr: Annotated[float, typer.Option("--aux-lr", help="entropy bottleneck (lower)")] = 1e-4,
    patience: Annotated[int, typer.Option("--patience")] = 10,
    eval_limit: Annotated[
        int | None, typer.Option("--eval-limit", help="validation scenes coded for real bpp")
    ] = None,
    init: Annotated[
        Path | None, typer.Option("--init", help="start from this codec checkpoint's weights")
    ] = None,
    max_minutes: MaxMinutes = None,
    max_steps: MaxSteps = None,
    crop: Crop = None,
    seed: Seed = 0,
    device: Device = None,
    threads: Threads = None,
    resume: Resume = False,
    as_json: Json = False,
    rate_lmbdas: Annotated[
        str | None,
        typer.Option(
            "--rate-lmbdas",
            help="comma-separated lambdas, highest rate first: train one variable-rate "
            "cheng2020-gmm with a gain level per lambda (then --lmbda is ignored)",
        ),
    ] = None,
    segmenter: Annotated[
        Path | None,
        typer.Option(
            "--segmenter",
            help="task-aware: this segmenter checkpoint, frozen, judges every reconstruction "
            "(distortion MSE + --task-weight x its BCE + soft Dice)",
        ),
    ] = None,
    task_weight: Annotated[
        float, typer.Option("--task-weight", help="weight of the segmenter's loss against MSE")
    ] = 0.0,
    task_target: Annotated[
        str,
        typer.Option(
            "--task-target",
            help="what the segmenter's output on a reconstruction is compared with: mask (the "
            "scene's labels) or clean (its own mask of the clean scene)",
        ),
    ] = "mask",
) -> None:
    """Train one rate point (L = lmbda * MSE + bpp; real bpp measured from the bitstreams),
    or with --rate-lmbdas one variable-rate model (estimated figures per level)."""
    from workbench.training.codec import CodecTrainConfig, train_codec

    _threads(threads)
    levels = _lambda_list(rate_lmbdas)
    config = CodecTrainConfig(
        task=task,
        data=data,
        out=out,
        model=model,
        quality=quality,
        lmbda=lmbda,
        N=n,
        M=m,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        aux_lr=aux_lr,
        patience=patience,
        max_minutes=max_minutes,
        max_steps=max_steps,
        crop=crop,
        eval_limit=eval_limit,
        init=init,
        seed=seed,
        device=device,
        resume=resume,
        command=recorded_command(ctx),
        rate_lmbdas=levels,
        segmenter=segmenter,
        task_weight=task_weight,
        task_target=task_target,
    )
    manifest = train_codec(config)
    if manifest and levels:
        _echo(manifest, as_json, f"{out}: variable rate, {len(levels)} levels")
    elif manifest:
        mt = manifest["metrics"]
        _echo(
            manifest,
            as_json,
            f"{out}: bpp {mt['bpp']:.4f} (payload {mt['payload_bpp']:.4f}, "
            f"estimate {mt['bpp_estimate']:.4f}) psnr_db {mt['psnr_db']:.2f}",
        )


def _lambda_list(text: str | None) -> tuple[float, ...]:
    """Parse ``--rate-lmbdas``: 2+ positive numbers, strictly decreasing (highest rate first)."""
    if text is None:
        return ()
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ConfigurationError(
            f"--rate-lmbdas must be comma-separated numbers, got {text!r}"
        ) from None
    decreasing = all(a > b for a, b in zip(values, values[1:], strict=False))
    if len(values) < 2 or any(v <= 0 for v in values) or not decreasing:
        raise ConfigurationError(
            f"--rate-lmbdas needs 2 or more positive lambdas, highest rate first (strictly "
            f"decreasing), got {text!r}; e.g. 200000,50000,12500,3125"
        )
    return values


@train_app.command("joint")
def train_joint_cmd(
    ctx: typer.Context,
    task: Task,
    data: Data,
    codec: Annotated[Path, typer.Option("--codec", help="pretrained codec checkpoint")],
    segmenter: Annotated[Path, typer.Option("--segmenter", help="pretrained segmenter checkpoint")],
    out: Annotated[Path, typer.Option("--out", help="folder for codec, segmenter, report.json")],
    lmbda: Annotated[float | None, typer.Option("--lmbda")] = None,
    gamma: Annotated[
        float | None, typer.Option("--gamma", help="weight of BCE; 0: standalone")
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario", help="high-quality (lmbda 10, gamma 1e-3) or low-quality (10, 1e-2)"
        ),
    ] = None,
    epochs: Annotated[int, typer.Option("--epochs")] = 20,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 8,
    lr: Annotated[float, typer.Option("--lr")] = 1e-4,
    aux_lr: Annotated[float, typer.Option("--aux-lr")] = 1e-5,
    seg_lr: Annotated[float, typer.Option("--seg-lr")] = 1e-4,
    eval_limit: Annotated[int | None, typer.Option("--eval-limit", help="scenes measured")] = None,
    quality: Annotated[
        int | None,
        typer.Option("--quality", help="a variable-rate codec's quality to train at (1..6)"),
    ] = None,
    max_minutes: MaxMinutes = None,
    max_steps: MaxSteps = None,
    crop: Crop = None,
    seed: Seed = 0,
    device: Device = None,
    threads: Threads = None,
    as_json: Json = False,
) -> None:
    """Fine-tune codec and segmenter with L = lmbda * MSE + bpp + gamma * BCE."""
    from workbench.training.joint import JointTrainConfig, scenario_weights, train_joint

    _threads(threads)
    preset = scenario_weights(scenario) if scenario else (None, None)
    lmbda = lmbda if lmbda is not None else preset[0]
    gamma = gamma if gamma is not None else preset[1]
    if lmbda is None or gamma is None:
        raise ConfigurationError("give --lmbda and --gamma, or --scenario high-quality|low-quality")
    config = JointTrainConfig(
        task=task,
        data=data,
        codec=codec,
        segmenter=segmenter,
        out=out,
        lmbda=lmbda,
        gamma=gamma,
        scenario=scenario or "custom",
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        aux_lr=aux_lr,
        seg_lr=seg_lr,
        eval_limit=eval_limit,
        quality=quality,
        crop=crop,
        max_minutes=max_minutes,
        max_steps=max_steps,
        seed=seed,
        device=device,
        command=recorded_command(ctx),
    )
    report = train_joint(config)
    if report:
        b, a = report["before"], report["after"]
        _echo(
            report,
            as_json,
            f"before: bpp {b['bpp']:.4f} psnr_db {b['psnr_db']:.2f} "
            f"f1_positive {b['f1_positive']:.4f}\nafter:  bpp {a['bpp']:.4f} "
            f"psnr_db {a['psnr_db']:.2f} f1_positive {a['f1_positive']:.4f}",
        )


@evaluate_app.command("segmenter")
def evaluate_segmenter_cmd(
    data: Data,
    task: Annotated[str | None, typer.Option("--task", help="use the shipped segmenter")] = None,
    ckpt: Annotated[Path | None, typer.Option("--ckpt", help="segmenter checkpoint")] = None,
    codec: Annotated[str | None, typer.Option("--codec", help="pass scenes through it")] = None,
    bpp: Annotated[float | None, typer.Option("--bpp", help="target rate for --codec")] = None,
    quality: Annotated[
        int | None, typer.Option("--quality", help="learned --codec quality 1..6 (not --bpp)")
    ] = None,
    checkpoints: CodecWeights = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="evaluate the first N scenes")
    ] = None,
    threads: Threads = None,
    as_json: Json = False,
) -> None:
    """F1 of the positive class and macro F1, optionally on decoded data."""
    from shared.codecs.base import RateTarget
    from shared.models.segmentation import load_segmenter, load_segmenter_checkpoint
    from workbench.training.evaluate import segment_scenes

    _threads(threads)
    if (task is None) == (ckpt is None):
        raise ConfigurationError("give exactly one of --task T (shipped segmenter) or --ckpt CKPT")
    if (codec is None) != (bpp is None and quality is None) or None not in (bpp, quality):
        raise ConfigurationError(
            "--codec takes one of --bpp or --quality, e.g. --codec jpeg2000 --bpp 0.5 or "
            "--codec cheng2020-gmm --quality 6"
        )
    segmenter = load_segmenter_checkpoint(ckpt) if ckpt is not None else load_segmenter(str(task))
    if segmenter is None:
        raise ConfigurationError(f"no shipped segmenter for task {task!r}; pass --ckpt")
    store = _codec_store(codec, segmenter.task, checkpoints)
    target = None if codec is None else RateTarget(bpp=bpp, quality=quality)
    result = segment_scenes(
        segmenter, data, codec=codec, target=target, checkpoints=store, limit=limit
    )
    _echo(
        result,
        as_json,
        f"{segmenter.task}: f1_positive {result['f1_positive']:.4f} "
        f"f1_macro {result['f1_macro']:.4f} over {result['scenes']} scenes"
        + (
            f" (bpp {result['bpp']:.4f}, psnr_db {result['psnr_db']:.2f})"
            if "bpp" in result
            else ""
        ),
    )


@evaluate_app.command("f1-curve")
def evaluate_f1_curve_cmd(
    task: Annotated[str, typer.Option("--task", help="fire, cloud or building")],
    data: Data,
    limit: Annotated[
        int | None, typer.Option("--limit", help="evaluate the first N scenes")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="CSV to update (the planner reads the shipped one)")
    ] = Path("shared/assets/curves/f1_vs_bpp.csv"),
    threads: Threads = None,
    as_json: Json = False,
) -> None:
    """F1 of the shipped U-Net on decoded held-out scenes against bpp: JPEG 2000 at a ladder of
    rates and the shipped cheng2020-gmm at each quality (the curve the satellite plans with)."""
    import shlex
    import sys

    from workbench.training.f1_curves import measure_curves, provenance, write_curves

    _threads(threads)
    rows = measure_curves(task, Path(data), limit)
    command = "eodl evaluate f1-curve " + " ".join(shlex.quote(a) for a in sys.argv[3:])
    write_curves(rows, out, provenance(command, Path(data), task))
    text = "\n".join(
        f"{r['task']} {r['codec']} q={r.get('quality')}: bpp {r.get('bpp', float('nan')):.4f} "
        f"f1_positive {r['f1_positive']:.4f} over {r['scenes']} scenes"
        for r in rows
    )
    _echo({"rows": rows, "out": str(out)}, as_json, text + f"\nwrote {out}")


def _codec_store(codec: str | None, task: str, root: Path | None) -> Any:
    from shared.codecs.registry import codec_info

    if codec is None or codec_info(codec).kind != "learned":
        return None
    from shared.codecs.learned.checkpoint import CheckpointStore
    from workbench.training.evaluate import shipped_codec_root

    if root is not None:
        _require_weights(root, codec)
    return CheckpointStore(roots=[root or shipped_codec_root(task)])


def _require_weights(root: Path, codec: str) -> None:
    """Refuse a --checkpoints folder without weights of ``codec``: the store would fall back
    to the shipped ones, and the figures would silently be theirs."""
    from shared.codecs.learned.manifest import read_manifest
    from shared.errors import CheckpointError

    for manifest_path in sorted(root.glob("*.json")) if root.is_dir() else []:
        try:
            if read_manifest(manifest_path).architecture == codec:
                return
        except CheckpointError:
            continue
    raise ConfigurationError(
        f"--checkpoints {root} holds no {codec} checkpoint (NAME.json + NAME.safetensors); "
        "name the folder the weights are in, or leave --checkpoints out for the shipped ones"
    )


@evaluate_app.command("codec")
def evaluate_codec_cmd(
    codec: Annotated[str, typer.Option("--codec", help="registry name, e.g. cheng2020-gmm")],
    data: Data,
    checkpoints: CodecWeights = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="evaluate the first N scenes")
    ] = None,
    real: Annotated[
        Path | None,
        typer.Option("--real", help="also the task's real samples (the handbook's data/ folder)"),
    ] = None,
    against: Annotated[
        str, typer.Option("--against", help="codec to compare at the same payload rates, or none")
    ] = "jpeg2000",
    threads: Threads = None,
    as_json: Json = False,
) -> None:
    """Payload and container bpp and PSNR per rate point of a codec on a held-out folder (and
    real samples), beside JPEG 2000 at the same payload rates, with BD-rate and BD-PSNR."""
    from workbench.training.codec_report import comparison_json, evaluate_codec

    _threads(threads)
    reference = None if against == "none" else against
    comparisons = evaluate_codec(codec, data, checkpoints, limit, real, reference)
    result = comparison_json(comparisons, reference)
    points, bd = result["points"], result["bd"]
    lines = [
        f"[{p['set']}] {p['codec']} q={p['quality']}: payload bpp {p['payload_bpp']:.4f} "
        f"(container {p['bpp']:.4f}) psnr_db {p['psnr_db']:.2f} over {p['scenes']} scenes"
        for p in points
    ]
    lines += [f"[{b['set']}] against {reference}: " + _bd_text(b) for b in bd]
    _echo(result, as_json, "\n".join(lines))


def _bd_text(bd: dict[str, Any]) -> str:
    return "; ".join(f"{k} {v}" for k, v in bd.items() if k.startswith("bd_"))


def register(app: typer.Typer) -> None:
    """Add the `train` and `evaluate` command groups to the `eodl` app."""
    app.add_typer(train_app, name="train")
    app.add_typer(evaluate_app, name="evaluate")
