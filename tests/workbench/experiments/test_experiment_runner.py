"""The resumable CSV tables: rows survive a reopen, finished keys are found, bad files refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import ConfigurationError, DatasetError
from workbench.experiments.catalog import expand_experiments
from workbench.experiments.runner import ResultsTable
from workbench.experiments.settings import QUICK, expand_tasks, with_codecs

COLUMNS = ("task", "codec", "quality", "bpp")


def test_rows_survive_a_reopen_and_their_keys_are_found(tmp_path: Path) -> None:
    path = tmp_path / "rd.csv"
    table = ResultsTable(path, COLUMNS, ("task", "codec", "quality"))
    table.append({"task": "fire", "codec": "jpeg2000", "quality": 0.5, "bpp": 0.61234567})
    reopened = ResultsTable(path, COLUMNS, ("task", "codec", "quality"))
    assert reopened.has(task="fire", codec="jpeg2000", quality=0.5)
    assert not reopened.has(task="fire", codec="jpeg2000", quality=1.0)
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    assert reopened.rows[0]["bpp"] == "0.612346"


def test_a_csv_with_other_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rd.csv"
    path.write_text("task,bpp\nfire,1\n")
    with pytest.raises(DatasetError, match="expected"):
        ResultsTable(path, COLUMNS, ("task",))


def test_a_row_missing_a_column_is_refused(tmp_path: Path) -> None:
    table = ResultsTable(tmp_path / "rd.csv", COLUMNS, ("task",))
    with pytest.raises(ConfigurationError, match="lacks columns"):
        table.append({"task": "fire"})


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError, match="seg-vs-rate"):
        expand_experiments("rate")
    with pytest.raises(ConfigurationError, match="building"):
        expand_tasks("forest")
    with pytest.raises(ConfigurationError, match="cheng2020-gmm"):
        with_codecs(QUICK, ("jpeg3000",))
    assert expand_tasks("all") == ("fire", "cloud", "building")


def test_seg_subset_keeps_the_lowest_and_highest_rate() -> None:
    assert QUICK.seg_subset((1, 2, 3)) == (1, 3)
    assert QUICK.seg_subset((1, 2)) == (1, 2)


def test_command_line_options_reach_the_settings() -> None:
    from workbench.experiments.settings import STANDARD, with_options

    assert with_options(STANDARD, None, False, False) == STANDARD
    chosen = with_options(STANDARD, 8, True, True)
    assert (chosen.seed, chosen.shipped_codec, chosen.seg_points) == (8, True, None)
    assert chosen.seg_subset((1, 2, 3, 4)) == (1, 2, 3, 4)  # every rate point
    with pytest.raises(ConfigurationError, match="--seed"):
        with_options(STANDARD, -1, False, False)
