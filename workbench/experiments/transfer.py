"""Transfer learning for the ``rd`` experiment (paper, Fig. 3b): pretrain on one sensor profile,
fine-tune on another.

The paper fine-tunes CompressAI zoo models (natural RGB images); nothing may be downloaded here,
so the pretrained model is our own codec trained on another profile (the thermal cloud scenes).
Its inner layers are copied into a fresh model of the target band count (the first analysis
and last synthesis convolutions differ in shape and start fresh), and that model is handed to
the project's codec trainer as the starting state of a resumable run at epoch 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from shared.errors import CheckpointError


def transferred_state(source: dict[str, torch.Tensor], target: Any) -> tuple[dict, int]:
    """``target``'s state dict with every tensor of matching name and shape taken from
    ``source``; returns it with the number of tensors copied."""
    state = target.state_dict()
    copied = 0
    for name, tensor in source.items():
        if name in state and state[name].shape == tensor.shape:
            state[name] = tensor.detach().clone()
            copied += 1
    return state, copied


def write_warm_start(config: Any, init_from: Path) -> None:
    """Write ``<config.out>.state.pt`` so that ``train_codec(config)`` (with ``resume=True``)
    starts at epoch 0 from the transferred weights instead of a random initialisation.

    Raises:
        CheckpointError: ``init_from`` is another architecture, or shares no layer.
    """
    from shared.codecs.learned.architectures import build_model
    from shared.codecs.learned.checkpoint import load_checkpoint
    from shared.sensors.profiles import get_profile
    from workbench.training.loops import EarlyStopping, rng_state, save_state, state_path
    from workbench.training.rd import codec_optimisers

    path = state_path(config.out)
    if path.is_file():
        return  # a run already started: resume it
    pretrained, manifest = load_checkpoint(init_from)
    if manifest.architecture != config.model:
        raise CheckpointError(
            f"{init_from} is a {manifest.architecture} checkpoint; a {config.model} codec can "
            f"only start from a {config.model} checkpoint"
        )
    torch.manual_seed(config.seed)
    bands = get_profile(config.task).bands
    net = build_model(config.model, bands, config.quality, N=config.N, M=config.M)
    state, copied = transferred_state(pretrained.state_dict(), net)
    if copied == 0:
        raise CheckpointError(f"{init_from} shares no layer with a {bands}-band {config.model}")
    net.load_state_dict(state)
    main_opt, aux_opt = codec_optimisers(net, config.lr, config.aux_lr)
    stopper = EarlyStopping(config.patience)
    save_state(
        path,
        {
            "model": net.state_dict(),
            "main_opt": main_opt.state_dict(),
            "aux_opt": aux_opt.state_dict(),
            "epoch": -1,
            "best": stopper.best,
            "stale": 0,
            "spent_s": 0.0,
            "rng": rng_state(),
            "best_model": None,
            "best_val": {},
            "losses": [],
        },
    )
