"""Widen a trained cheng2020-gmm's latents (M) without changing what it computes.

A model trained at M = N = 48 hits a fidelity ceiling on 10-band tiles that no rate level
lifts: its transform, not its quantiser, sets it (on held-out building tiles its latents
decoded unquantised give the same PSNR as level 0). Retraining a wider model from scratch
costs the whole campaign again; instead the trained weights are copied into a model with
more latent channels so that the old channels compute exactly what they did, and the new ones
start from the new model's random initialisation:

- every weight tensor's old block is copied into the corner of the new one;
- an old output never reads a new input (those weights are zero), so the old latents, their
  mixtures and the reconstruction are unchanged until training moves them; where both sides
  of a layer grow, a new output reads new inputs only, so the new channels start as a path of
  their own, fed by the last analysis convolution;
- layouts that index latents inside a wider axis are remapped: the entropy network reads
  ``cat(hyper params[2M], context params[2M])`` and emits (means, scales, logits) each
  component-major (``k * M + m``);
- the new channels' mixtures start as unit Gaussians (a random start gives some latents
  likelihood 0, whose rate has no gradient);
- the first synthesis block gains a 1x1 skip (``ResidualBlock(M, N)``), set to pass the old
  channels through as the identity did;
- the new channels' rate gains start at the mean of the old ones at each level.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from shared.errors import CheckpointError

Remap = Callable[[int], int]


def widen_latents(source: Any, target: Any) -> None:
    """Copy ``source``'s weights into the wider-M ``target`` (same N, bands, K and levels).

    Raises:
        CheckpointError: the two models differ in anything but M, or target is not wider.
    """
    _check_pair(source, target)
    old_m, new_m = int(source.M), int(target.M)
    old, new = source.state_dict(), target.state_dict()
    maps = _index_maps(old_m, new_m, int(source.K))
    for name, tensor in new.items():
        if name not in old or name.endswith(".mask"):  # a masked conv's mask is a pattern
            continue
        new[name] = _embed(name, old[name], tensor, maps)
    _quiet_start(new, f"g_a.{len(target.g_a) - 2}", old_m)
    _plain_mixture(new, old_m, new_m, int(source.K))
    new["g_s.1.skip.weight"] = _identity_skip(new["g_s.1.skip.weight"], old_m)
    new["g_s.1.skip.bias"] = torch.zeros_like(new["g_s.1.skip.bias"])
    for name in ("rate_gains.log_gain", "rate_gains.log_inverse"):
        if name in old:
            new[name] = _spread_gains(old[name], new_m)
    target.load_state_dict(new)


def _check_pair(source: Any, target: Any) -> None:
    same = (source.N, source.bands, source.K) == (target.N, target.bands, target.K)
    levels = [getattr(getattr(m, "rate_gains", None), "levels", 0) for m in (source, target)]
    if not same or levels[0] != levels[1] or target.M <= source.M:
        raise CheckpointError(
            f"cannot widen N={source.N} M={source.M} bands={source.bands} ({levels[0]} levels) "
            f"into N={target.N} M={target.M} bands={target.bands} ({levels[1]} levels): only "
            "M may grow"
        )


def _index_maps(old_m: int, new_m: int, k: int) -> dict[str, tuple[Remap | None, Remap | None]]:
    """Per parameter: how an old (output, input) index maps into the new tensor (None: same)."""

    def params_then_ctx(i: int) -> int:  # cat(params 2M, ctx 2M)
        return i if i < 2 * old_m else 2 * new_m + (i - 2 * old_m)

    def mixture(i: int) -> int:  # (means, scales, logits), each K blocks of M
        block, channel = divmod(i, old_m)
        return block * new_m + channel

    return {
        "entropy_parameters.0.weight": (None, params_then_ctx),
        "entropy_parameters.4.weight": (mixture, None),
        "entropy_parameters.4.bias": (mixture, None),
    }


def _embed(
    name: str,
    old: Tensor,
    new: Tensor,
    maps: dict[str, tuple[Remap | None, Remap | None]],
) -> Tensor:
    """The new tensor with the old one in its (remapped) corner, old outputs blind to new inputs."""
    if old.shape == new.shape or old.dim() != new.dim() or old.shape[0] > new.shape[0]:
        return old.clone()  # untouched by M, or an entropy coder's table sized by update()
    out_map, in_map = maps.get(name, (None, None))
    result = new.clone()
    rows = _indices(old.shape[0], out_map)
    if old.dim() == 1:
        result[rows] = old
        return result
    cols = _indices(old.shape[1], in_map)
    result[rows] = 0.0  # old outputs: zero everywhere, then the old weights at their places
    result[rows[:, None], cols[None, :]] = old
    if old.shape[1] < new.shape[1]:  # new outputs read new inputs only: a separate path
        fresh = torch.ones(new.shape[0], dtype=torch.bool)
        fresh[rows] = False
        result[fresh.nonzero()[:, 0][:, None], cols[None, :]] = 0.0
    return result


QUIET = 0.1  # the new latents' analysis rows, scaled: trained features are large (y std ~15)


def _quiet_start(state: dict[str, Tensor], layer: str, old_m: int) -> None:
    """New latents start small (std ~0.7 on building tiles, not ~7), so that their unit
    Gaussians fit them and their first bits are cheap."""
    state[f"{layer}.weight"][old_m:] *= QUIET
    state[f"{layer}.bias"][old_m:] *= QUIET


def _plain_mixture(state: dict[str, Tensor], old_m: int, new_m: int, k: int) -> None:
    """New channels start from one unit Gaussian per component (means 0, scales 1, equal
    weights) rather than from random mixtures, some of which give likelihood 0 (no gradient
    through the rate's clamp)."""
    weight, bias = state["entropy_parameters.4.weight"], state["entropy_parameters.4.bias"]
    for block in range(3 * k):
        rows = slice(block * new_m + old_m, (block + 1) * new_m)
        weight[rows] = 0.0
        bias[rows] = 1.0 if k <= block < 2 * k else 0.0  # the scale blocks


def _indices(count: int, remap: Remap | None) -> Tensor:
    return torch.tensor([i if remap is None else remap(i) for i in range(count)])


def _identity_skip(weight: Tensor, old_m: int) -> Tensor:
    """A (N, M, 1, 1) skip that passes latent channel i to output i for the old channels."""
    skip = torch.zeros_like(weight)
    for i in range(min(old_m, weight.shape[0])):
        skip[i, i, 0, 0] = 1.0
    return skip


def _spread_gains(old: Tensor, new_m: int) -> Tensor:
    extra = old.mean(dim=1, keepdim=True).expand(-1, new_m - old.shape[1])
    return torch.cat((old, extra), dim=1)
