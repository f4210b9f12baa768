"""Atheris harness: the container parser (``read_header``, ``unpack_container``).

Property: for any bytes, parsing either returns a container whose header agrees with its
lengths (a version-2 JPEG 2000 payload is the codestream rebuilt around the carried tile data),
or raises a domain error (``EODownlinkError``); never another exception.

    python tests/fuzz/fuzz_container.py -runs=20000 -max_total_time=60
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from shared.errors import EODownlinkError
    from shared.wire import read_header, unpack_container

from fuzz_common import codec_seed, mutate  # noqa: E402

SEED: bytes = b""


def test_one_input(data: bytes) -> None:
    """Parse one mutated container; only domain errors may escape."""
    blob = mutate(SEED, data)
    try:
        header = read_header(blob)
        container = unpack_container(blob)
    except EODownlinkError:
        return
    if header.total_bytes != len(blob):
        raise RuntimeError(f"header declares {header.total_bytes} bytes, {len(blob)} parsed")
    if not header.frame_elided and len(container.payload) != header.payload_bytes:
        raise RuntimeError(f"payload {len(container.payload)} != header {header.payload_bytes}")


def main() -> None:
    """Build the seed container, then hand over to libFuzzer."""
    global SEED
    SEED = codec_seed("jpeg2000").container
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
