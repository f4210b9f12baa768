"""Atheris harness: a codec's decode path on mutated payloads (the checksum is assumed to have
passed: this is what a decoder sees from a signed but buggy or hostile sender).

Property: decoding returns a raster of the declared shape and dtype, or raises a domain
error; never another exception, never a crash (run it in a subprocess: a segfault ends the
process and libFuzzer reports it with the input that caused it).

    EODL_FUZZ_CODEC=jpeg2000 python tests/fuzz/fuzz_decode.py -runs=2000 -max_total_time=60
    EODL_FUZZ_CODEC=learned python tests/fuzz/fuzz_decode.py -runs=500 -max_total_time=60
"""

from __future__ import annotations

import os
import sys

import atheris

with atheris.instrument_imports(include=["shared"]):
    import shared.codecs.j2k_codestream  # noqa: F401  (instrumented: the decoders' own code)
    import shared.codecs.jpeg2000  # noqa: F401
    import shared.codecs.learned.codec  # noqa: F401
    import shared.codecs.learned.coding  # noqa: F401
    from shared.codecs.base import DecodeLimits
    from shared.errors import EODownlinkError

from fuzz_common import SPEC, CodecSeed, codec_seed, mutate  # noqa: E402

SEED: CodecSeed | None = None
LIMITS = DecodeLimits(max_pixels=64 * 64, max_bands=1, max_payload_bytes=1 << 20)


def test_one_input(data: bytes) -> None:
    """Decode one mutated payload; only domain errors may escape."""
    assert SEED is not None
    payload = mutate(SEED.payload, data)
    try:
        raster = SEED.codec.decode(payload, SPEC, SEED.model, LIMITS)
    except EODownlinkError:
        return
    if raster.shape != SPEC.shape or raster.dtype.name != SPEC.dtype:
        raise RuntimeError(f"decoded {raster.dtype} {raster.shape}, expected {SPEC.shape}")


def main() -> None:
    """Build the seed payload of ``EODL_FUZZ_CODEC`` (jpeg2000 or learned), then fuzz."""
    global SEED
    import torch

    torch.set_num_threads(1)
    SEED = codec_seed(os.environ.get("EODL_FUZZ_CODEC", "jpeg2000"))
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
