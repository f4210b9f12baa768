"""Pass budgets from the link profile; candidates carry the sizes of real containers."""

from __future__ import annotations

from pathlib import Path

import pytest

from satellite_node.link.profile import LinkProfile, PassWindow
from satellite_node.planner.allocator import QueuedScene, plan_pass
from satellite_node.planner.budget import measured_candidates, pass_budget_bytes
from satellite_node.planner.curves import CurveBook, curves_from_csv
from shared.codecs.base import RateTarget
from shared.compression import compress_raster
from shared.errors import DatasetError, UnknownNameError
from workbench.datasets.generate import generate_scene


def test_budget_is_rate_times_the_next_pass_minus_outages() -> None:
    periodic = LinkProfile(rate_bps=8000, pass_period_s=100, pass_duration_s=10, pass_offset_s=50)
    assert pass_budget_bytes(periodic, 0.0) == 10_000  # the pass at 50..60 s
    assert pass_budget_bytes(periodic, 55.0) == 5_000  # half of it is left
    windows = LinkProfile(
        rate_bps=8000,
        windows=(PassWindow(start_s=10, end_s=30),),
        outages=(PassWindow(start_s=15, end_s=20),),
    )
    assert pass_budget_bytes(windows, 0.0) == 15_000
    assert pass_budget_bytes(windows, 31.0) == 0  # no pass is left


def test_measured_candidates_carry_real_container_sizes() -> None:
    image = generate_scene("fire", 101).image
    curves = CurveBook.seeded()
    options = [("jpeg2000", 1.0), ("jpeg2000", 2.0), ("jpeg2000", 0.001)]  # the last: below floor
    found = measured_candidates(image, "fire", options, curves, bit_depth=14)
    assert len(found) == 2
    for cand, bpp in zip(found, (1.0, 2.0), strict=False):
        again = compress_raster(image, codec="jpeg2000", target=RateTarget(bpp=bpp), bit_depth=14)
        assert cand.measured and cand.bytes == len(again.container)
        assert cand.f1_expected == pytest.approx(curves.f1_at("fire", "jpeg2000", again.bpp))
    plan = plan_pass([QueuedScene("f", "fire", 0, found)], found[0].bytes)
    assert plan.entries[0].candidate.bytes == found[0].bytes


def test_curves_interpolate_and_load_from_a_seg_vs_rate_table(tmp_path: Path) -> None:
    path = tmp_path / "seg-vs-rate.csv"
    path.write_text(
        "task,codec,bpp,f1_positive,f1_macro\n"
        "fire,jpeg2000,0.5,0.4,0.6\nfire,jpeg2000,2.0,0.6,0.8\nfire,uncompressed,14,0.66,0.83\n"
    )
    book = curves_from_csv(path)
    assert book.f1_at("fire", "jpeg2000", 1.0) == pytest.approx(0.5)  # halfway in log(bpp)
    assert book.f1_at("fire", "jpeg2000", 8.0) == pytest.approx(0.6)
    assert book.f1_at("fire", "jpeg2000", 0.25) == pytest.approx(0.2)
    with pytest.raises(UnknownNameError):
        book.f1_at("cloud", "jpeg2000", 1.0)
    (tmp_path / "bad.csv").write_text("task,bpp\nfire,1\n")
    with pytest.raises(DatasetError):
        curves_from_csv(tmp_path / "bad.csv")


def test_measured_curves_replace_the_priors_and_say_so(tmp_path: Path) -> None:
    path = tmp_path / "f1_vs_bpp.csv"
    path.write_text(
        "task,codec,quality,bpp,payload_bpp,psnr_db,f1_positive,f1_macro,scenes\n"
        "building,uncompressed,,,,,0.06,0.52,32\n"
        "building,jpeg2000,,0.3,0.35,28,0.01,0.50,32\nbuilding,jpeg2000,,2.0,2.1,35,0.05,0.52,32\n"
    )
    book = CurveBook.shipped(path)
    # the prior promises F1+ 0.12 at 0.3 bpp on building; this measurement says 0.01
    assert CurveBook.seeded().f1_at("building", "jpeg2000", 0.3) == pytest.approx(0.12)
    assert book.f1_at("building", "jpeg2000", 0.3) == pytest.approx(0.01)
    assert book.source("building", "jpeg2000").startswith("measured (f1_vs_bpp.csv")
    assert book.source("fire", "jpeg2000") == CurveBook.seeded().source("fire", "jpeg2000")
    assert book.sources()["fire/jpeg2000"].startswith("prior")
    assert CurveBook.shipped(tmp_path / "absent.csv").sources() == CurveBook.seeded().sources()


def test_the_shipped_table_measures_every_task_with_both_codecs_and_its_provenance() -> None:
    import json

    from satellite_node.planner.curves import shipped_curves_path

    book = CurveBook.shipped()
    for task in ("fire", "cloud", "building"):
        for codec in ("jpeg2000", "cheng2020-gmm"):
            assert book.source(task, codec).startswith("measured"), (task, codec)
    provenance = json.loads(shipped_curves_path().with_suffix(".json").read_text())
    assert all(provenance[t]["command"].startswith("eodl evaluate f1-curve") for t in provenance)
