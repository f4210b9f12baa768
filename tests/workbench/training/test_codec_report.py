"""The learned codec beside JPEG 2000: rate points, matching reference points, guarded deltas."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from shared.codecs.base import RateTarget
from workbench.training.codec_report import (
    bd_figures,
    compare,
    evaluate_codec,
    heldout,
    real,
    reference_rates,
)

LMBDAS = [800.0, 200.0, 50.0]


def _points(rates: list[float], psnrs: list[float]) -> list[dict[str, float]]:
    return [
        {"payload_bpp": r, "bpp": r + 0.1, "psnr_db": q} for r, q in zip(rates, psnrs, strict=True)
    ]


def test_deltas_are_numbers_only_where_they_mean_something() -> None:
    anchor = _points([0.5, 1.0, 2.0, 4.0], [30.0, 34.0, 38.0, 42.0])
    better = _points([0.25, 0.5, 1.0, 2.0], [30.0, 34.0, 38.0, 42.0])  # half the bits
    figures = bd_figures(better, anchor)
    assert figures["bd_rate_payload_pct"] == pytest.approx(-50.0, abs=0.5)
    assert figures["bd_psnr_payload_db"] > 0
    assert figures["bd_rate_payload_pchip_pct"] == pytest.approx(-50.0, abs=0.5)
    assert figures["bd_psnr_payload_pchip_db"] > 0
    short = bd_figures(better[:3], anchor)
    assert all(str(v).startswith("n/a (") for v in short.values())


def test_the_reference_reaches_above_the_codecs_rates() -> None:
    assert reference_rates([0.3, 0.1, 0.2]) == [0.1, 0.2, 0.3, 0.6, 1.2]
    assert reference_rates([0.13, 0.132, 0.2]) == [0.13, 0.2, 0.4, 0.8]  # 1.5 % apart: one


@pytest.fixture(scope="module")
def variable_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-level variable-rate fire checkpoint (untrained weights, levels spread)."""
    from shared.codecs.learned.architectures import build_model
    from shared.codecs.learned.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("vr")
    torch.manual_seed(0)
    model = build_model("cheng2020-gmm", 1, 6, N=16, rate_levels=len(LMBDAS))
    model.rate_gains.spread(tuple(LMBDAS))
    fields = {
        "architecture": "cheng2020-gmm",
        "quality": 6,
        "rate_lmbdas": LMBDAS,
        "task": "fire",
        "trained": True,
    }
    save_checkpoint(model.eval(), root / "cheng2020-gmm", fields)
    return root


def test_a_variable_rate_checkpoint_is_evaluated_at_all_six_qualities(
    variable_root: Path, fire_dir: Path
) -> None:
    (result,) = evaluate_codec("cheng2020-gmm", fire_dir, variable_root, limit=3)
    assert [p["quality"] for p in result.points] == [1, 2, 3, 4, 5, 6]
    assert all(p["scenes"] == 3 and p["bpp"] > p["payload_bpp"] for p in result.points)
    assert result.reference and {p["codec"] for p in result.reference} == {"jpeg2000"}
    assert {row["set"] for row in result.rows()} == {"held-out"}
    assert set(result.bd) == {
        f"bd_{kind}{method}_{unit}"
        for kind, unit in (
            ("rate_payload", "pct"),
            ("psnr_payload", "db"),
            ("rate_container", "pct"),
        )
        for method in ("", "_pchip")
    }


def test_real_samples_are_a_scene_set_of_their_own(sample_data: Path) -> None:
    scenes = list(real(sample_data, "building")())
    assert len(scenes) == 5 and all(image.shape[0] == 10 for _, image, _ in scenes)
    point = compare(
        "jpeg2000",
        "building",
        "real",
        real(sample_data, "building"),
        [RateTarget(bpp=1.0)],
        reference=None,
    )
    assert point.points[0]["scenes"] == 5 and point.reference == []


def test_the_reference_reaches_down_to_the_codecs_lowest_psnr(fire_dir: Path) -> None:
    from workbench.training.codec_report import _extend_down

    scenes = heldout(fire_dir, 2)
    (start,) = compare("jpeg2000", "fire", "held-out", scenes, [RateTarget(bpp=3.0)]).points
    assert _extend_down("jpeg2000", "fire", scenes, [start], start["psnr_db"]) == [start]
    extended = _extend_down("jpeg2000", "fire", scenes, [start], floor_db=0.0)
    rates = [p["payload_bpp"] for p in extended]
    psnrs = [p["psnr_db"] for p in extended]
    assert len(extended) > 1 and extended[-1] == start
    assert rates == sorted(rates) and psnrs == sorted(psnrs)  # each halving costs PSNR
    assert len(extended) <= 4  # three halvings at most, fewer where markers fill the budget


def test_the_reference_is_measured_inside_a_jump_across_the_codecs_range(
    fire_dir: Path,
) -> None:
    from workbench.training.codec_report import GAP_DB, _fill_gaps

    scenes = heldout(fire_dir, 2)
    ends = compare(
        "jpeg2000", "fire", "held-out", scenes, [RateTarget(bpp=1.0), RateTarget(bpp=4.0)]
    ).points
    low, high = ends
    assert high["psnr_db"] - low["psnr_db"] > GAP_DB  # a jump worth filling
    outside = (high["psnr_db"] + 1.0, high["psnr_db"] + 5.0)  # the codec's range lies above it
    assert _fill_gaps("jpeg2000", "fire", scenes, ends, outside) == ends
    filled = _fill_gaps("jpeg2000", "fire", scenes, ends, (low["psnr_db"], high["psnr_db"]))
    rates = [p["payload_bpp"] for p in filled]
    psnrs = [p["psnr_db"] for p in filled]
    assert len(filled) > 2 and filled[0] == low and filled[-1] == high
    assert rates == sorted(rates) and psnrs == sorted(psnrs)
    assert len(filled) <= 2 + 1 + 2 + 4  # three rounds at most


def test_a_held_out_folder_is_read_whole(fire_dir: Path) -> None:
    assert len(list(heldout(fire_dir, None)())) == 24


def test_bpp_targets_land_close_or_are_counted_outside_the_range(
    variable_root: Path, fire_dir: Path
) -> None:
    from shared.codecs.learned.checkpoint import CheckpointStore
    from workbench.training.codec_report import bpp_accuracy

    store = CheckpointStore([variable_root])
    (result,) = evaluate_codec("cheng2020-gmm", fire_dir, variable_root, limit=3, against=None)
    rates = sorted(p["payload_bpp"] for p in result.points)
    middle, below = (rates[0] * rates[-1]) ** 0.5, rates[0] / 10
    inside, outside = bpp_accuracy(
        "cheng2020-gmm", "fire", heldout(fire_dir, 3), [middle, below], store
    )
    assert inside["scenes"] == 3 and inside["outside_range"] < 3
    assert inside["max_abs_error_pct"] < 50 and 0 <= inside["within_10pct"] <= 1
    assert outside["outside_range"] == 3  # a tenth of the lowest rate: no scene can land there
