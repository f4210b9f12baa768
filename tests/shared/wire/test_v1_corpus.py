"""Containers written by the last version-1 writer still decode, to exactly the pixels that
build decoded (tests/golden/v1, made by make_v1_corpus.py at commit 670d7f0)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.compression import decompress_container
from shared.wire.container import read_header

CORPUS = Path(__file__).parents[2] / "golden" / "v1"
CASES = sorted(p.stem for p in CORPUS.glob("*.eodl"))


def test_the_corpus_is_there() -> None:
    assert len(CASES) == 5, CASES


@pytest.mark.parametrize("name", CASES)
def test_a_v1_container_decodes_to_the_pixels_it_was_frozen_with(name: str) -> None:
    data = (CORPUS / f"{name}.eodl").read_bytes()
    assert read_header(data).version == 1
    decoded = decompress_container(data)
    expected = np.load(CORPUS / f"{name}.npz", allow_pickle=False)["raster"]
    assert decoded.raster.dtype == expected.dtype
    np.testing.assert_array_equal(decoded.raster, expected)
    assert decoded.digest_matches is True
    assert decoded.truth_mask is not None
