"""The paper's model: Cheng 2020 with attention and a discretised Gaussian mixture (K=3).

CompressAI's ``Cheng2020Attention`` predicts one Gaussian per latent; Cheng et al. (2020) predict
a mixture of K Gaussians. Here ``entropy_parameters`` emits 3*K*M channels (means, scales and
mixture-weight logits, each component-major: component k of channel m at index k*M + m) and the
likelihood is CompressAI's ``GaussianMixtureConditional``. Entropy coding is in
:mod:`shared.codecs.learned.gmm_coding` (autoregressive, per-position mixture CDFs, rANS).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from compressai.entropy_models import GaussianMixtureConditional
from compressai.models import Cheng2020Attention
from torch import Tensor, nn

if TYPE_CHECKING:
    from shared.codecs.learned.rate_gain import ChannelGains

MIXTURE_COMPONENTS = 3


class Cheng2020GMM(Cheng2020Attention):  # type: ignore[misc]  # CompressAI is untyped
    """Cheng 2020 attention model with a K-component Gaussian mixture likelihood.

    Args:
        N: channel width of the transforms.
        M: channel width of the latents y (default N, as in CompressAI's cheng2020). A wider M
            with the same N costs little compute (the layers it touches run at 1/16 of the
            resolution) and lifts the fidelity ceiling that M = N sets on many-band inputs.
        K: mixture components.
    """

    def __init__(
        self, N: int = 192, M: int | None = None, K: int = MIXTURE_COMPONENTS, **kwargs: Any
    ) -> None:
        super().__init__(N=N, **kwargs)
        M = N if M is None else M
        if M != N:
            self._widen_latents(N, M)
        self.K = K
        self.entropy_parameters = nn.Sequential(
            nn.Conv2d(M * 4, M * 6, 1),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(M * 6, M * 8, 1),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(M * 8, M * 3 * K, 1),
        )
        self.gaussian_conditional = GaussianMixtureConditional(K=K)

    def _widen_latents(self, N: int, M: int) -> None:
        """Replace the layers that touch y with M-channel ones (transforms stay N wide)."""
        from compressai.layers import AttentionBlock, MaskedConv2d, ResidualBlock, conv3x3

        self.g_a[-2] = conv3x3(N, M, stride=2)
        self.g_a[-1] = AttentionBlock(M)
        self.h_a[0] = conv3x3(M, N)
        self.h_s[-1] = conv3x3(N * 3 // 2, M * 2)
        self.context_prediction = MaskedConv2d(M, 2 * M, kernel_size=5, padding=2, stride=1)
        self.g_s[0] = AttentionBlock(M)
        self.g_s[1] = ResidualBlock(M, N)
        self.M = M

    def mixture_parameters(self, params: Tensor, ctx_params: Tensor) -> tuple[Tensor, ...]:
        """Means, scales and softmax weights of the mixture from hyper and context params.

        Shape:
            params, ctx_params: (B, 2M, H, W) each.
            returns: three (B, K*M, H, W) tensors; weights sum to 1 over the K components.
        """
        out = self.entropy_parameters(torch.cat((params, ctx_params), dim=1))
        means, scales, logits = out.chunk(3, dim=1)
        b, _, h, w = logits.shape
        weights = logits.reshape(b, self.K, -1, h, w).softmax(dim=1).reshape(b, -1, h, w)
        return means, scales, weights

    def forward(self, x: Tensor, level: float | None = None) -> dict[str, Any]:
        """Training pass: reconstruction and likelihoods of y (mixture) and z (factorized).

        ``level``: the rate level of a variable-rate model (see
        :mod:`shared.codecs.learned.rate_gain`); None for a fixed-rate one.

        Shape:
            x: (B, bands, H, W) in [0, 1], H and W multiples of 64.
        """
        if level is not None:
            from shared.codecs.learned.rate_gain import forward_at

            return forward_at(self, x, level)
        y = self.g_a(x)
        z = self.h_a(y)
        z_hat, z_likelihoods = self.entropy_bottleneck(z)
        params = self.h_s(z_hat)
        y_hat = self.gaussian_conditional.quantize(y, "noise" if self.training else "dequantize")
        ctx_params = self.context_prediction(y_hat)
        means, scales, weights = self.mixture_parameters(params, ctx_params)
        _, y_likelihoods = self.gaussian_conditional(y, scales, means, weights)
        x_hat = self.g_s(y_hat)
        return {"x_hat": x_hat, "likelihoods": {"y": y_likelihoods, "z": z_likelihoods}}

    def compress(
        self, x: Tensor, gain: Tensor | None = None, rate: ChannelGains | None = None
    ) -> dict[str, Any]:
        """Entropy-code x: ``{"strings": [[y], [z]], "shape": z_shape, "symbol_bound": int}``.

        ``gain``: optional ROI gains per latent position, shape (1, 1, h, w); ``rate``: the
        channel gains of a variable-rate model's level (see
        :func:`shared.codecs.learned.gmm_coding.compress_gmm`).
        """
        from shared.codecs.learned.gmm_coding import compress_gmm

        return compress_gmm(self, x, gain=gain, rate=rate)

    def decompress(
        self,
        strings: list[list[bytes]],
        shape: tuple[int, int],
        symbol_bound: int = 0,
        gain: Tensor | None = None,
        rate: ChannelGains | None = None,
    ) -> dict[str, Tensor]:
        """Decode what :meth:`compress` produced: ``{"x_hat"}`` clamped to [0, 1]."""
        from shared.codecs.learned.gmm_coding import decompress_gmm

        return decompress_gmm(self, strings, shape, symbol_bound, gain=gain, rate=rate)
