"""``eodl bench codecs``: the JSON rows' shape and identical outputs (never timings)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

from shared.errors import ConfigurationError, UnknownNameError
from workbench.bench import references
from workbench.bench.codecs import default_cases, shipped_widths
from workbench.bench.report import codec_table

ROW_KEYS = {
    "codec",
    "profile",
    "device",
    "threads",
    "encode_mpix_s",
    "decode_mpix_s",
    "peak_rss_mb",
    "reference",
}
REFERENCE_KEYS = {"name", "encode_mpix_s", "decode_mpix_s"}


def test_quick_json_rows_have_the_documented_shape_and_exact_outputs(
    bench_app: typer.Typer,
) -> None:
    result = CliRunner().invoke(
        bench_app, ["bench", "codecs", "--quick", "--json", "--threads", "1"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["codec"], r["profile"]) for r in rows] == [
        ("jpeg2000", "fire"),
        ("cheng2020-gmm", "fire"),
    ]
    for row in rows:
        assert ROW_KEYS <= set(row) and row["device"] == "cpu" and row["threads"] == 1
        assert row["exact"] is True  # every decode equals the encoder's reconstruction
        assert min(row["encode_mpix_s"], row["decode_mpix_s"], row["peak_rss_mb"]) > 0
        assert REFERENCE_KEYS <= set(row["reference"])
        assert all(ref["exact"] for ref in row["references"])
    assert rows[1]["reference"]["name"] == "compressai:cheng2020-attn"
    assert rows[1]["untrained"] is True
    names = {ref["name"] for ref in rows[0]["references"]}
    assert names == {n for n in references.TOOLS if references.tool_available(n)}
    assert "cheng2020-gmm" in codec_table(rows) and "vs compressai" in codec_table(rows)


def test_shipped_mode_times_the_trained_checkpoints_of_the_task(bench_app: typer.Typer) -> None:
    cases = default_cases(False, 1, 16, None, ["building"], shipped=True)
    learned = {c.codec for c in cases if c.codec in ("cheng2020-gmm", "cheng2020-attn")}
    assert learned == {"cheng2020-gmm"}  # no cheng2020-attn ships: not timed
    args = ["bench", "codecs", "--shipped", "--codec", "cheng2020-gmm", "--profile", "fire"]
    result = CliRunner().invoke(bench_app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["untrained"] is False and row["exact"] is True
    assert row["widths"] == list(shipped_widths("cheng2020-gmm", "fire"))  # not --width's 16


@pytest.mark.parametrize("name", sorted(references.TOOLS))
def test_jpeg2000_tools_round_trip_the_same_samples(name: str) -> None:
    if not references.tool_available(name):
        pytest.skip(f"{name} command-line tools are not installed")
    samples = np.random.default_rng(1).integers(0, 2**14, (3, 40, 24)).astype(np.uint16)
    timing = references.jpeg2000_tool_reference(name, samples, 14, 3, 1, 1)
    assert timing.exact and timing.name == name


def test_compressai_reference_decodes_reproducibly() -> None:
    x = torch.rand(1, 2, 64, 64)
    timing = references.compressai_reference("mean-scale-hyperprior", 2, 3, 16, x, 2)
    assert timing.exact and timing.name == "compressai:mean-scale-hyperprior"


def test_unknown_codec_or_profile_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown codec"):
        default_cases(False, 1, 16, ["jpeg3000"])
    with pytest.raises(UnknownNameError, match="fire"):
        default_cases(False, 1, 16, None, ["volcano"])
    assert len(default_cases(False, 2, 16)) == 10 * 3  # every registered codec, 3 profiles


def test_jpeg_xl_is_benched_like_the_other_classical_codec(bench_app: typer.Typer) -> None:
    args = ["bench", "codecs", "--codec", "jpeg-xl", "--profile", "fire", "--json"]
    result = CliRunner().invoke(bench_app, args)
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert (row["codec"], row["profile"], row["exact"], row["untrained"]) == (
        "jpeg-xl",
        "fire",
        True,
        False,
    )
    assert row["reference"] is None and min(row["encode_mpix_s"], row["decode_mpix_s"]) > 0
