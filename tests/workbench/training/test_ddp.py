"""DDP: two gloo processes under torch.distributed.run train a segmenter and a codec together."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

SCRIPT = """
import json, sys
from pathlib import Path
import torch
import torch.distributed as dist
from workbench.training.codec import CodecTrainConfig, train_codec
from workbench.training.segmenter import SegmenterTrainConfig, train_segmenter

data, out = Path(sys.argv[1]), Path(sys.argv[2])
seg = train_segmenter(SegmenterTrainConfig(
    task="fire", data=data, out=out / "seg", encoder="mobilenet_v2", encoder_depth=3,
    decoder_channels=(16, 8, 8), epochs=2, max_steps=2, batch_size=4, seed=0, device="cpu"))
codec = train_codec(CodecTrainConfig(
    task="fire", data=data, out=out / "codec", model="cheng2020-gmm", quality=1, lmbda=100.0,
    N=8, epochs=1, max_steps=2, batch_size=4, seed=0, device="cpu"))
rank = int(__import__("os").environ["RANK"])
(out / f"rank{rank}.json").write_text(json.dumps({"seg": bool(seg), "codec": bool(codec)}))
"""


def _run_group(command: list[str], env: dict[str, str], timeout_s: float) -> tuple[int, str]:
    """Run torchrun in its own process group; on a timeout kill the whole group, workers too
    (killing torchrun alone would leave its workers hanging on a gloo barrier)."""
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        _, stderr = process.communicate()
        pytest.fail(f"torchrun did not finish within {timeout_s:.0f} s:\n{stderr[-3000:]}")
    return process.returncode, stderr


@pytest.mark.integration
def test_two_gloo_processes_train_segmenter_and_codec(fire_dir: Path, tmp_path: Path) -> None:
    script = tmp_path / "ddp_run.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        str(script),
        str(fire_dir),
        str(tmp_path),
    ]
    returncode, stderr = _run_group(command, env, timeout_s=600)
    assert returncode == 0, stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks == [{"seg": True, "codec": True}] * 2  # every rank returns the manifest
    seg = json.loads((tmp_path / "seg.json").read_text())
    assert seg["trained"]["processes"] == 2
    codec = json.loads((tmp_path / "codec.json").read_text())
    assert codec["metrics"]["processes"] == 2 and codec["metrics"]["bpp"] > 0
