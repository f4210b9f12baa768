"""`eodl demo --exit`: both services as real processes, every task through the link."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from workbench.demo.report import format_table, summarise

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.integration
def test_demo_delivers_every_scene_of_every_task_and_stops(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench.cli.main",
            "demo",
            "--exit",
            "--scenes",
            "1",
            "--data-dir",
            str(data_dir),
            "--pass-period",
            "6",
            "--pass-duration",
            "4",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    with sqlite3.connect(data_dir / "ground" / "ground.db") as db:
        rows = db.execute(
            "SELECT task, codec, state, bpp, container_bytes, height, width, f1_positive,"
            " digest_verified FROM transfers"
        ).fetchall()
    uploaded = int(run.stdout.split("uploaded ")[1].split()[0])
    assert len(rows) == uploaded
    assert {r[0] for r in rows} == {"fire", "cloud", "building"}
    assert {r[1] for r in rows} >= {"jpeg2000", "cheng2020-gmm"}  # the shipped checkpoints
    for task, codec, state, bpp, size, h, w, f1, verified in rows:
        assert state == "processed", (task, codec)
        # learned containers carry the reconstruction check; JPEG 2000's (version 2) do not
        assert verified == (1 if codec != "jpeg2000" else None), (task, codec)
        assert bpp == size * 8 / (h * w)
        assert f1 is not None and 0.0 <= f1 <= 1.0  # the shipped segmenters ran
    assert "per task and codec" in run.stdout
    summary = run.stdout.split("per task and codec")[1]
    for task in ("fire", "cloud", "building"):  # the clean reference beside the codecs
        assert re.search(rf"{task}\s+uncompressed\s+n=1", summary), summary
    for url in re.findall(r"http://127\.0\.0\.1:\d+", run.stdout.splitlines()[0]):
        with pytest.raises(httpx.ConnectError):  # --exit stopped both services
            httpx.get(f"{url}/healthz", timeout=2.0)


def test_report_table_lists_each_transfer_and_the_summary_means() -> None:
    rows = [
        {
            "task": "fire",
            "codec": "jpeg2000",
            "bpp": 2.0,
            "payload_bpp": 1.0,
            "psnr_db": 40.0,
            "f1_positive": 0.5,
            "f1_macro": 0.7,
            "link_seconds": 0.1,
            "state": "processed",
        },
        {
            "task": "fire",
            "codec": "jpeg2000",
            "bpp": 4.0,
            "payload_bpp": 3.0,
            "psnr_db": 50.0,
            "f1_positive": None,
            "f1_macro": None,
            "link_seconds": 0.3,
            "state": "processed",
        },
        {"task": "cloud", "codec": "jpeg2000", "bpp": 1.0, "state": "failed"},
    ]
    table = format_table(rows)
    assert len(table.splitlines()) == 2 + 3
    summary = summarise(rows)
    assert [(s["task"], s["codec"]) for s in summary] == [("fire", "jpeg2000")]
    assert summary[0]["bpp"] == 3.0 and summary[0]["f1_positive"] == 0.5
    assert "n=2" in format_table(summary)


def test_the_clean_reference_is_the_shipped_unet_on_the_demos_own_scenes() -> None:
    from shared.metrics.segmentation import f1_positive
    from shared.models.segmentation import load_segmenter
    from shared.sensors.profiles import get_profile
    from workbench.datasets.dataset import normalise
    from workbench.datasets.generate import generate_scenes
    from workbench.demo.reference import clean_rows

    rows = clean_rows(2, seed=2026)
    assert [(r["task"], r["codec"]) for r in rows] == [
        (task, "uncompressed") for task in ("fire", "cloud", "building") for _ in range(2)
    ]
    scene = list(generate_scenes("building", 2, 2026))[1]
    segmenter = load_segmenter("building")
    assert segmenter is not None
    mask = segmenter.predict(normalise(scene.image, get_profile("building")))
    assert rows[-1]["f1_positive"] == f1_positive(scene.mask, mask)


def test_a_rerun_starts_afresh_and_a_foreign_folder_is_refused(tmp_path: Path) -> None:
    from shared.errors import ConfigurationError
    from workbench.demo.processes import DEMO_MARKER, prepare_data_dir

    demo = tmp_path / "demo"
    prepare_data_dir(demo)
    (demo / "ground").mkdir()
    (demo / "ground" / "ground.db").write_bytes(b"old run")
    prepare_data_dir(demo)
    assert not (demo / "ground").exists() and (demo / DEMO_MARKER).is_file()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("keep me")
    with pytest.raises(ConfigurationError, match="not made by `eodl demo`"):
        prepare_data_dir(foreign)
    assert (foreign / "thesis.tex").read_text() == "keep me"
