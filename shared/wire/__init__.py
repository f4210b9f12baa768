"""The wire format: one self-describing, checksummed container per scene (format version 1)."""

from shared.wire.container import (
    DEFAULT_MAX_CONTAINER_BYTES,
    DIGEST_KEY,
    MAX_METADATA_BYTES,
    Container,
    check_lengths,
    compute_checksum,
    pack_container,
    read_header,
    unpack_container,
)
from shared.wire.header import (
    DTYPE_CODES,
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    SUPPORTED_VERSIONS,
    ContainerHeader,
)
from shared.wire.sidecar import pack_mask, unpack_mask

__all__ = [
    "DEFAULT_MAX_CONTAINER_BYTES",
    "DIGEST_KEY",
    "DTYPE_CODES",
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MAGIC",
    "MAX_METADATA_BYTES",
    "SUPPORTED_VERSIONS",
    "Container",
    "ContainerHeader",
    "check_lengths",
    "compute_checksum",
    "pack_container",
    "pack_mask",
    "read_header",
    "unpack_container",
    "unpack_mask",
]
