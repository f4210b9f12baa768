"""Containers written by the last version-1 writer still decode, to exactly the pixels that
build decoded (tests/golden/v1, made by make_v1_corpus.py at commit 670d7f0).

A learned container names the weights it was coded with; the building codec those were has
since been replaced (2026-12-06), so its weights stay beside the corpus (``weights/``, the same
bytes as in git history) and the decoder finds them the way a ground station installs a
retired satellite checkpoint: through ``EODL_CHECKPOINTS``.

A learned codec's entropy decoding is integer-exact, but its synthesis transform is float
arithmetic: on another CPU instruction set it can round a few pixels to the neighbouring sensor
step. On the VM of 2026-12-06 (AMD EPYC, AVX-512) the building ``cheng2020-gmm`` container
decodes 18 of 40960 values one step away from the frozen ones (the code and weights of commit
4455cfc give the same), and the container's reconstruction digest says so
(``digest_matches`` False). JPEG 2000 containers stay exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.codecs.learned.checkpoint import ENV_VAR
from shared.compression import decompress_container
from shared.wire.container import read_header

CORPUS = Path(__file__).parents[2] / "golden" / "v1"
RETIRED_WEIGHTS = CORPUS / "weights"
CASES = sorted(p.stem for p in CORPUS.glob("*.eodl"))


def test_the_corpus_is_there() -> None:
    assert len(CASES) == 5, CASES


@pytest.mark.parametrize("name", CASES)
def test_a_v1_container_decodes_to_the_pixels_it_was_frozen_with(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(RETIRED_WEIGHTS))
    data = (CORPUS / f"{name}.eodl").read_bytes()
    assert read_header(data).version == 1
    decoded = decompress_container(data)
    expected = np.load(CORPUS / f"{name}.npz", allow_pickle=False)["raster"]
    assert decoded.raster.dtype == expected.dtype
    assert decoded.truth_mask is not None
    if "jpeg2000" in name or np.array_equal(decoded.raster, expected):
        np.testing.assert_array_equal(decoded.raster, expected)
        assert decoded.digest_matches is True
        return
    off = np.abs(decoded.raster.astype(np.int64) - expected.astype(np.int64))
    assert off.max() == 1 and np.count_nonzero(off) <= 0.001 * off.size, (off.max(), off.size)
    assert decoded.digest_matches is False  # the container tells the ground it differs


def test_without_the_retired_weights_a_learned_container_is_refused_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.errors import WeightsMismatchError

    monkeypatch.delenv(ENV_VAR, raising=False)
    data = (CORPUS / "building-cheng2020-gmm-q2.eodl").read_bytes()
    with pytest.raises(WeightsMismatchError, match="install the satellite's checkpoint"):
        decompress_container(data)
