"""The rate-distortion objective and the optimiser split for learned codecs.

L = lambda * MSE + R (+ gamma * BCE when joint), MSE on [0, 1] data, R in bits per pixel
estimated from the likelihoods (one pixel = one spatial position, all bands, as CompressAI and
the wire format count it). The entropy bottleneck's quantiles get their own Adam with a lower
learning rate, driven by ``aux_loss()`` alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

AUX_SUFFIX = ".quantiles"


@dataclass(frozen=True)
class RDTerms:
    """The terms of one batch's rate-distortion loss (tensors keep their graph)."""

    loss: torch.Tensor
    mse: torch.Tensor
    bpp: torch.Tensor

    @property
    def psnr_db(self) -> float:
        mse = self.mse.detach().item()
        return math.inf if mse <= 0 else 10.0 * math.log10(1.0 / mse)


def estimated_bpp(likelihoods: dict[str, torch.Tensor], pixels: int) -> torch.Tensor:
    """Bits per pixel implied by the likelihoods of all latents.

    Args:
        likelihoods: CompressAI's ``{"y": ..., "z": ...}``.
        pixels: B x H x W of the batch.
    """
    total = sum(torch.log(lk.clamp_min(1e-9)).sum() for lk in likelihoods.values())
    return -total / (math.log(2.0) * pixels)


def rd_terms(output: dict[str, object], x: torch.Tensor, lmbda: float) -> RDTerms:
    """lambda * MSE + bpp for a codec's ``forward`` output.

    Shape:
        x: (B, C, H, W) in [0, 1]; ``output["x_hat"]`` the same.
    """
    x_hat = cast(torch.Tensor, output["x_hat"])
    likelihoods = cast(dict[str, torch.Tensor], output["likelihoods"])
    batch, _, height, width = x.shape
    mse = nn.functional.mse_loss(x_hat, x)
    bpp = estimated_bpp(likelihoods, batch * height * width)
    return RDTerms(loss=lmbda * mse + bpp, mse=mse, bpp=bpp)


def aux_parameter_names(model: nn.Module) -> list[str]:
    """Names of the entropy bottleneck's quantile parameters (trained by ``aux_loss`` only)."""
    return [
        name
        for name, p in model.named_parameters()
        if name.endswith(AUX_SUFFIX) and p.requires_grad
    ]


def codec_optimisers(
    model: nn.Module, lr: float, aux_lr: float
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """(autoencoder Adam, entropy-bottleneck auxiliary Adam) over disjoint parameter sets."""
    aux_names = set(aux_parameter_names(model))
    main = [p for n, p in model.named_parameters() if n not in aux_names and p.requires_grad]
    aux = [p for n, p in model.named_parameters() if n in aux_names]
    return torch.optim.Adam(main, lr=lr), torch.optim.Adam(aux, lr=aux_lr)
