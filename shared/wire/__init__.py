"""The wire format: one self-describing, checksummed container per scene. Format version 2
(``shared.wire.format_v2``, compact) is written; versions 1 (``shared.wire.header``) and 2 are
read (``READABLE_VERSIONS``).

A scene too large to code in one piece is still one container: its header sets the tiled flag
and its payload is a tile directory (``shared.wire.tiles``) followed by the tiles' payloads.
"""

from shared.wire.container import (
    DEFAULT_MAX_CONTAINER_BYTES,
    DIGEST_KEY,
    MAX_METADATA_BYTES,
    READABLE_VERSIONS,
    WRITTEN_VERSION,
    Container,
    check_lengths,
    compute_checksum,
    pack_container,
    read_header,
    unpack_container,
)
from shared.wire.header import (
    DTYPE_CODES,
    FLAG_TILED,
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    ContainerHeader,
)
from shared.wire.sidecar import pack_mask, unpack_mask
from shared.wire.tiles import TileDirectory, pack_tiled_payload, parse_tile_directory

__all__ = [
    "DEFAULT_MAX_CONTAINER_BYTES",
    "DIGEST_KEY",
    "DTYPE_CODES",
    "FLAG_TILED",
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MAGIC",
    "MAX_METADATA_BYTES",
    "READABLE_VERSIONS",
    "WRITTEN_VERSION",
    "TileDirectory",
    "Container",
    "ContainerHeader",
    "check_lengths",
    "compute_checksum",
    "pack_container",
    "pack_mask",
    "pack_tiled_payload",
    "parse_tile_directory",
    "read_header",
    "unpack_container",
    "unpack_mask",
]
