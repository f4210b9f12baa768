"""Codecs: JPEG 2000 and the learned N-band CompressAI models, behind one contract."""

from shared.codecs.base import (
    Codec,
    DecodeLimits,
    EncodedPayload,
    ModelRef,
    RasterSpec,
    RateTarget,
    reconstruction_digest,
)
from shared.codecs.registry import CODECS, CodecInfo, codec_info, codec_info_by_wire_id, get_codec

__all__ = [
    "CODECS",
    "Codec",
    "CodecInfo",
    "DecodeLimits",
    "EncodedPayload",
    "ModelRef",
    "RasterSpec",
    "RateTarget",
    "codec_info",
    "codec_info_by_wire_id",
    "get_codec",
    "reconstruction_digest",
]
