"""Seeds side by side: rows matched by rung, mean and spread right, missing rungs said."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.experiments import baseline, seg_vs_rate
from workbench.experiments.seeds import Spread, rungs, write_page


def _seed(folder: Path, f1s: list[float], bpps: list[float], clean: float) -> Path:
    table = seg_vs_rate.table(folder)
    for bpp, f1 in zip(bpps, f1s, strict=True):
        table.append(
            {"task": "building", "codec": "jpeg2000", "bpp": bpp, "f1_positive": f1, "f1_macro": f1}
        )
    baseline.table(folder).append(
        {
            "task": "building",
            "backbone": "resnet34",
            "f1_positive": clean,
            "f1_macro": clean,
            "paper_f1_positive": 0.448,
            "paper_f1_macro": 0.72,
        }
    )
    return folder


def test_rungs_match_by_rate_order_not_by_exact_bpp(tmp_path: Path) -> None:
    a = _seed(tmp_path / "a", [0.2, 0.5], [0.101, 0.52], 0.6)
    b = _seed(tmp_path / "b", [0.4, 0.7, 0.8], [0.098, 0.49, 1.0], 0.7)
    grouped, notes = rungs([a, b])
    assert sorted(grouped) == [("building", "jpeg2000", 0), ("building", "jpeg2000", 1)]
    assert [float(r["f1_positive"]) for r in grouped[("building", "jpeg2000", 1)]] == [0.5, 0.7]
    assert notes and "2 of 3 rungs" in notes[0]
    page = write_page(tmp_path / "out", [a, b], "test").read_text()
    assert "| building | resnet34 | 2 | 0.650 ± 0.071 (0.600-0.700) |" in page
    assert "| building | jpeg2000 | 1 | 0.505 | 0.600 ± 0.141 (0.500-0.700) |" in page
    assert (tmp_path / "out" / "seeds-building.png").read_bytes()[:4] == b"\x89PNG"


def test_spread_of_one_seed_is_the_value_alone() -> None:
    assert Spread((0.25,)).cell() == "0.250"
    assert Spread((1.0, 2.0, 3.0)).sd == pytest.approx(1.0)
