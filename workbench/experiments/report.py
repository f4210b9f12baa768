"""Markdown sections and the assembled report of an output folder, from its CSVs.

Each experiment writes ``NAME.md`` (its tables and plots); :func:`write_report` joins the
sections that exist into ``report.md`` under a header naming the mode, the machine and the
wall time each experiment took (``timings.json``).
"""

from __future__ import annotations

import json
import math
import platform
from pathlib import Path

from shared.errors import ConfigurationError
from workbench.experiments.references import REFERENCES
from workbench.experiments.runner import ResultsTable, as_float

SECTION_ORDER = ("baseline", "rd", "seg-vs-rate", "joint", "roi", "budget")


def _fmt(cell: str, digits: int = 4) -> str:
    value = as_float(cell) if cell not in ("inf",) else math.inf
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.{digits}g}"


def markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def csv_table(results: ResultsTable, digits: int = 4) -> str:
    """Every row of a CSV as a markdown table (numbers rounded)."""
    rows = [
        tuple(
            r[c] if c in ("task", "codec", "backbone", "scenario") else _fmt(r[c], digits)
            for c in results.columns
        )
        for r in results.rows
    ]
    return markdown_table(results.columns, rows)


def bd_rate_cell(rows: list[dict[str, str]], anchor: list[dict[str, str]], rate: str) -> str:
    """BD-rate (%) of a codec's rows against the anchor's, or why it cannot be computed."""
    from shared.metrics.bdrate import bd_rate

    try:
        value = bd_rate(
            [as_float(r[rate]) for r in anchor],
            [as_float(r["psnr_db"]) for r in anchor],
            [as_float(r[rate]) for r in rows],
            [as_float(r["psnr_db"]) for r in rows],
        )
    except ConfigurationError as exc:  # UndefinedDeltaError: short, non-monotone, no overlap
        return f"n/a ({exc})"
    return f"{value:+.1f} %"


def bd_rate_table(rd: ResultsTable, payload: ResultsTable) -> str:
    """BD-rate of every learned codec against JPEG 2000 per task, payload bpp first (the
    paper's and CompressAI's convention), container bpp beside it; negative means fewer bits
    than JPEG 2000 at equal PSNR, "n/a" with the reason where a delta means nothing."""
    merged = {(p["task"], p["codec"], p["quality"]): p["payload_bpp"] for p in payload.rows}
    rows = [
        {**r, "payload_bpp": merged.get((r["task"], r["codec"], r["quality"]), "")} for r in rd.rows
    ]
    out = []
    for task in dict.fromkeys(r["task"] for r in rows):
        anchor = [r for r in rows if r["task"] == task and r["codec"] == "jpeg2000"]
        for codec in dict.fromkeys(r["codec"] for r in rows if r["task"] == task):
            if codec == "jpeg2000" or codec in REFERENCES:  # reference points: no curve
                continue
            mine = [r for r in rows if r["task"] == task and r["codec"] == codec]
            out.append(
                (
                    task,
                    codec,
                    bd_rate_cell(mine, anchor, "payload_bpp"),
                    bd_rate_cell(mine, anchor, "bpp"),
                )
            )
    header = ("task", "codec", "BD-rate vs JPEG 2000 (payload bpp)", "(container bpp)")
    return markdown_table(header, out)


def machine() -> str:
    """The machine in words: CPU count, platform and the accelerator if any."""
    import os

    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{os.cpu_count()} CPU cores ({platform.machine()}, {platform.system()}), {gpu}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} torch threads"
    )


def write_section(out: Path, name: str, body: str) -> Path:
    """Write ``OUT/NAME.md``."""
    path = Path(out) / f"{name}.md"
    path.write_text(body.rstrip() + "\n")
    return path


#: What each mode's results are, as every section of the mode says under its heading.
MODE_BANNERS: dict[str, str] = {
    "quick": (
        "> **Quick mode**: tiny data, tiny models, a few dozen training steps. This page tests "
        "the pipeline; its figures are not results (see `docs/results/README.md`)."
    ),
    "standard": (
        "> **Standard mode**: mid-size data, codecs and U-Nets trained for minutes on a CPU; "
        "not the paper's scale (see `docs/results/README.md`)."
    ),
}


def mark_mode(section: Path, mode: str) -> Path:
    """Put the mode's banner under a section's heading (once; full mode has none)."""
    banner = MODE_BANNERS.get(mode)
    lines = Path(section).read_text().splitlines()
    if banner is None or banner in lines:
        return section
    at = 1 if lines and lines[0].startswith("#") else 0
    lines[at:at] = ["", banner] if at else [banner, ""]
    Path(section).write_text("\n".join(lines).rstrip() + "\n")
    return section


def write_report(out: Path, mode: str, command: str) -> Path:
    """Join the sections present in ``out`` into ``report.md``, with mode, machine, times."""
    out = Path(out)
    timings_path = out / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    lines = [
        "# Reproduction of the paper's experiments",
        "",
        f"- mode: **{mode}**"
        + (
            " (tiny data, tiny models, few steps: a smoke run of the "
            "pipeline, not the paper's scale)"
            if mode == "quick"
            else ""
        ),
        f"- command: `{command}`",
        f"- machine: {machine()}",
    ]
    for name in SECTION_ORDER:
        if name in timings:
            t = timings[name]
            lines.append(f"- `{name}`: {t['seconds']:.0f} s wall time ({', '.join(t['tasks'])})")
    for name in SECTION_ORDER:
        section = out / f"{name}.md"
        if section.is_file():
            lines += ["", section.read_text().rstrip()]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
