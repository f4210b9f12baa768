"""Codecs: JPEG 2000 and the learned N-band CompressAI models, behind one contract."""

from shared.codecs.base import (
    Capabilities,
    Codec,
    DecodeLimits,
    EncodedPayload,
    ModelRef,
    RasterSpec,
    RateTarget,
    reconstruction_digest,
)
from shared.codecs.registry import (
    CodecInfo,
    all_codecs,
    codec_info,
    codec_info_by_wire_id,
    get_codec,
    open_codec,
    register_codec,
)

__all__ = [
    "Capabilities",
    "Codec",
    "CodecInfo",
    "all_codecs",
    "DecodeLimits",
    "EncodedPayload",
    "ModelRef",
    "RasterSpec",
    "RateTarget",
    "codec_info",
    "codec_info_by_wire_id",
    "get_codec",
    "open_codec",
    "reconstruction_digest",
    "register_codec",
]
