"""The decoded product of one transfer, kept by processing so that nothing decodes it again.

Processing decodes the container once (in the decode worker), segments and measures; what it
had in hand is written beside the container as ``product.npz``: the raster in the container's
dtype, the predicted and truth masks, and the container's header and metadata. The dashboard
renders its panels from it. One compressed NumPy archive, read with ``allow_pickle=False``:
arrays and two JSON documents only, never objects.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shared.durable import atomic_write

PRODUCT_NAME = "product.npz"


@dataclass(frozen=True)
class Product:
    """What processing decoded and predicted for one transfer.

    Shape:
        raster: (C, H, W) in the container's dtype; predicted: (H, W) uint8 0/1, or None (no
        segmenter for the task); truth: (H, W) uint8 0/1, or None (no evaluation sidecar).
    """

    raster: np.ndarray
    predicted: np.ndarray | None
    truth: np.ndarray | None
    header: dict[str, Any]
    metadata: dict[str, Any]
    digest_matches: bool | None  # None: the container carries no reconstruction check


_CHECK_CODES: dict[bool | None, int] = {True: 1, False: 0, None: -1}
_CHECKS = {code: check for check, code in _CHECK_CODES.items()}


def _json_array(document: dict[str, Any]) -> np.ndarray:
    text = json.dumps(document, allow_nan=False, default=str)
    return np.frombuffer(text.encode(), dtype=np.uint8)


def _mask(mask: np.ndarray | None) -> np.ndarray | None:
    if mask is None:
        return None
    hw = np.asarray(mask)
    hw = hw[0] if hw.ndim == 3 and hw.shape[0] == 1 else hw
    return (hw > 0).astype(np.uint8)


def product_of(
    raster: np.ndarray,
    predicted: np.ndarray | None,
    truth: np.ndarray | None,
    result: dict[str, Any],
) -> Product:
    """The product of one decode: ``result`` is the decode worker's record of the container."""
    return Product(
        raster=np.asarray(raster),
        predicted=_mask(predicted),
        truth=_mask(truth),
        header=dict(result["header"]),
        metadata=dict(result["metadata"]),
        digest_matches=None if result["digest_matches"] is None else bool(result["digest_matches"]),
    )


def save_product(product: Product, path: Path) -> int:
    """Write the product atomically (temporary file, fsync, rename); return its size in bytes."""
    arrays = {
        "raster": product.raster,
        "header": _json_array(product.header),
        "metadata": _json_array(product.metadata),
        "digest_matches": np.asarray(_CHECK_CODES[product.digest_matches], dtype=np.int8),
    }
    if product.predicted is not None:
        arrays["predicted"] = product.predicted
    if product.truth is not None:
        arrays["truth"] = product.truth
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    data = buffer.getvalue()
    atomic_write(path, data)
    return len(data)


def load_product(path: Path) -> Product:
    """Read a product written by :func:`save_product` (no pickled objects are accepted)."""
    with np.load(path, allow_pickle=False) as archive:
        return Product(
            raster=archive["raster"],
            predicted=archive["predicted"] if "predicted" in archive.files else None,
            truth=archive["truth"] if "truth" in archive.files else None,
            header=json.loads(archive["header"].tobytes()),
            metadata=json.loads(archive["metadata"].tobytes()),
            digest_matches=_CHECKS[int(archive["digest_matches"])],
        )
