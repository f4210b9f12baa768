"""`eodl experiment roi` for real on tiny data: equal total bytes with and without ROI coding,
the ROI at higher fidelity than the background, and a rerun that recomputes nothing."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from shared.errors import RateTargetError
from workbench.datasets.generate import generate_scene
from workbench.experiments.catalog import EXPERIMENTS, run_experiment
from workbench.experiments.roi import MATCH_TOLERANCE, encode_at_total_bytes
from workbench.experiments.settings import PAPER_CODEC, QUICK

HEADER = "task,codec,roi,total_bytes,bpp,f1_positive,psnr_roi_db,psnr_background_db"
PIXELS = {"fire": 32 * 32, "cloud": 256 * 256}
#: 1 bpp (128 container bytes) is below what JPEG 2000 lands within 3 % on a 32x32 patch, and
#: 8 bpp above what its lossy 9/7 gives now that the main header stays on the ground (container
#: format 2): such budgets must give no rows. The others are budgets where ROI coding pays for
#: its record (at 4 bpp on fire and 0.1-0.3 bpp on cloud it does not: docs/results/roi.md).
TINY = replace(
    QUICK,
    train_counts={**QUICK.train_counts, "fire": 4, "cloud": 1},
    test_counts={**QUICK.test_counts, "fire": 4, "cloud": 2},
    roi_codecs=("jpeg2000",),
    roi_bpps={"fire": (1.0, 5.0, 6.0), "cloud": (1.0,)},
)
#: One cloud scene through the paper's learned codec (its ROI fit encodes 16 candidates).
TINY_LEARNED = replace(
    TINY,
    test_counts={**TINY.test_counts, "cloud": 1},
    roi_codecs=(PAPER_CODEC,),
    roi_bpps={"cloud": (0.3,)},
)
TASKS = ("fire", "cloud", "building")


def _rows(out: Path) -> list[dict[str, str]]:
    path = out / "roi.csv"
    assert path.read_text().splitlines()[0] == HEADER
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _pairs(rows: list[dict[str, str]]) -> list[tuple[dict[str, str], dict[str, str]]]:
    """(plain, ROI) rows of each budget, in the order they were written."""
    return [(a, b) for a, b in zip(rows[::2], rows[1::2], strict=True)]


@pytest.fixture(scope="module")
def roi_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("roi")
    run_experiment("roi", out, TASKS, TINY)
    return out


def test_roi_is_in_the_catalog() -> None:
    assert "roi" in EXPERIMENTS


def test_rows_pair_plain_and_roi_at_equal_total_bytes(roi_run: Path) -> None:
    rows = _rows(roi_run)
    assert {(r["task"], r["codec"]) for r in rows} == {("fire", "jpeg2000"), ("cloud", "jpeg2000")}
    pairs = _pairs(rows)
    assert len(pairs) == 3  # fire 5 and 6 bpp, cloud 1 bpp; fire at 1 bpp is unreachable
    for plain, coded in pairs:
        assert (plain["task"], plain["roi"], coded["roi"]) == (coded["task"], "0", "1")
        a, b = int(plain["total_bytes"]), int(coded["total_bytes"])
        assert abs(a - b) <= MATCH_TOLERANCE * max(a, b), (plain, coded)
        scenes = TINY.test_counts[plain["task"]]
        for row in (plain, coded):
            assert float(row["bpp"]) == pytest.approx(
                int(row["total_bytes"]) * 8 / (scenes * PIXELS[row["task"]]), rel=1e-4
            )
            assert 0.0 <= float(row["f1_positive"]) <= 1.0


def test_budgets_are_met_in_real_container_bytes(roi_run: Path) -> None:
    budgets = sorted(float(r["bpp"]) for r in _rows(roi_run) if r["task"] == "fire")
    assert budgets == pytest.approx([5.0, 5.0, 6.0, 6.0], rel=MATCH_TOLERANCE)


def test_roi_rows_keep_the_roi_above_the_background(roi_run: Path) -> None:
    for plain, coded in _pairs(_rows(roi_run)):
        assert float(coded["psnr_roi_db"]) > float(coded["psnr_background_db"]), coded
        # the bytes came from the background ...
        assert float(coded["psnr_background_db"]) < float(plain["psnr_background_db"])
    top = {r["task"]: (p, r) for p, r in _pairs(_rows(roi_run))}  # highest budget per task
    for plain, coded in top.values():  # ... and went into the ROI
        assert float(coded["psnr_roi_db"]) > float(plain["psnr_roi_db"]), (plain, coded)


def test_section_says_which_tasks_have_no_detector(roi_run: Path) -> None:
    section = (roi_run / "roi.md").read_text()
    assert "No ROI rows for building" in section
    assert "fire jpeg2000-1bpp: " in section  # the unreachable budget, with why
    assert (roi_run / "roi-cloud.png").read_bytes()[:4] == b"\x89PNG"


def test_a_rerun_recomputes_nothing(roi_run: Path) -> None:
    before = (roi_run / "roi.csv").read_text()
    cached = sorted((roi_run / "work" / "roi").rglob("*.json"))
    stamps = [p.stat().st_mtime_ns for p in cached]
    run_experiment("roi", roi_run, TASKS, TINY)
    assert (roi_run / "roi.csv").read_text() == before
    assert [p.stat().st_mtime_ns for p in cached] == stamps


def test_the_learned_codec_never_gets_more_bytes_with_its_roi(tmp_path: Path) -> None:
    run_experiment("roi", tmp_path, ("cloud",), TINY_LEARNED)
    plain, coded = _pairs(_rows(tmp_path))[0]
    assert (plain["codec"], plain["roi"], coded["roi"]) == (PAPER_CODEC, "0", "1")
    budget = 0.3 * PIXELS["cloud"] / 8
    assert int(coded["total_bytes"]) <= int(plain["total_bytes"]) <= budget
    for row in (plain, coded):
        assert 5.0 < float(row["psnr_roi_db"]) < 120.0
        assert 5.0 < float(row["psnr_background_db"]) < 120.0


def test_an_unreachable_byte_budget_is_refused() -> None:
    image = generate_scene("fire", 101).image
    with pytest.raises(RateTargetError, match="container bytes"):
        encode_at_total_bytes(image, "fire", "jpeg2000", 60, metadata={"task": "fire"})
    scene = encode_at_total_bytes(image, "fire", "jpeg2000", 700, metadata={"task": "fire"})
    assert abs(len(scene.container) - 700) <= MATCH_TOLERANCE * 700
    assert np.array_equal(scene.reconstruction.shape, image.shape)
