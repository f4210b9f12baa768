"""Codec registry: permanent kebab-case names and explicit integer wire ids.

Wire ids are written into every container: never renumber or reuse one. Codec classes are
imported lazily so that listing codecs does not import torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from shared.codecs.base import Codec, CodecKind
from shared.errors import UnknownNameError


@dataclass(frozen=True)
class CodecInfo:
    """A registry entry.

    Attributes:
        name: permanent kebab-case name.
        wire_id: permanent integer written into containers.
        kind: ``classical`` or ``learned``.
        max_bands: most bands the codec accepts.
        target: ``module:Class`` of the implementation, imported on first use.
        summary: one line for ``eodl codecs``.
    """

    name: str
    wire_id: int
    kind: CodecKind
    max_bands: int
    target: str
    summary: str


_LEARNED = "shared.codecs.learned.codec:"
CODECS: tuple[CodecInfo, ...] = (
    CodecInfo(
        "jpeg2000",
        1,
        "classical",
        16,
        "shared.codecs.jpeg2000:Jpeg2000Codec",
        "JPEG 2000 (OpenJPEG via glymur): lossless 5/3 or lossy 9/7 at a target bpp",
    ),
    CodecInfo(
        "factorized-prior",
        10,
        "learned",
        16,
        _LEARNED + "FactorizedPriorCodec",
        "Balle 2017 factorized prior, N-band",
    ),
    CodecInfo(
        "scale-hyperprior",
        11,
        "learned",
        16,
        _LEARNED + "ScaleHyperpriorCodec",
        "Balle 2018 scale hyperprior, N-band",
    ),
    CodecInfo(
        "mean-scale-hyperprior",
        12,
        "learned",
        16,
        _LEARNED + "MeanScaleHyperpriorCodec",
        "Minnen 2018 mean-scale hyperprior, N-band",
    ),
    CodecInfo(
        "cheng2020-anchor",
        13,
        "learned",
        16,
        _LEARNED + "Cheng2020AnchorCodec",
        "Cheng 2020 anchor (residual blocks, autoregressive context), N-band",
    ),
    CodecInfo(
        "cheng2020-attn",
        14,
        "learned",
        16,
        _LEARNED + "Cheng2020AttnCodec",
        "Cheng 2020 with attention, single Gaussian, N-band",
    ),
    CodecInfo(
        "cheng2020-gmm",
        15,
        "learned",
        16,
        _LEARNED + "Cheng2020GMMCodec",
        "the paper's model: Cheng 2020 attention + Gaussian mixture (K=3), N-band",
    ),
    CodecInfo(
        "cheng2020-checkerboard",
        16,
        "learned",
        16,
        _LEARNED + "Cheng2020CheckerboardCodec",
        "Cheng 2020 anchor with a two-pass checkerboard context (fast decode), N-band",
    ),
)

_BY_NAME = {info.name: info for info in CODECS}
_BY_WIRE_ID = {info.wire_id: info for info in CODECS}


def codec_info(name: str) -> CodecInfo:
    """Look a codec up by name; an unknown name lists the valid ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown codec {name!r}; valid codecs: {', '.join(_BY_NAME)}"
        ) from None


def codec_info_by_wire_id(wire_id: int) -> CodecInfo:
    """Look a codec up by the wire id a container carries."""
    try:
        return _BY_WIRE_ID[wire_id]
    except KeyError:
        valid = ", ".join(f"{i.wire_id} ({i.name})" for i in CODECS)
        raise UnknownNameError(f"unknown codec wire id {wire_id}; valid ids: {valid}") from None


def get_codec(name: str, **options: Any) -> Codec:
    """Instantiate a codec by name. Learned codecs accept ``checkpoints=`` (a CheckpointStore)."""
    info = codec_info(name)
    module_name, _, class_name = info.target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    codec: Codec = cls(**options)
    return codec
