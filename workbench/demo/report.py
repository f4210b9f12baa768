"""Print the demo's per-transfer table and per-codec summary."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

COLUMNS = (
    ("task", "task", "{}"),
    ("codec", "codec", "{}"),
    ("q", "quality", "{}"),
    ("bpp", "bpp", "{:.3f}"),
    ("payload bpp", "payload_bpp", "{:.3f}"),
    ("PSNR dB", "psnr_db", "{:.2f}"),
    ("F1+", "f1_positive", "{:.3f}"),
    ("F1 macro", "f1_macro", "{:.3f}"),
    ("link s", "link_seconds", "{:.2f}"),
    ("state", "state", "{}"),
)


def _cell(record: dict[str, Any], key: str, fmt: str) -> str:
    value = record.get(key)
    if value is None:
        return "-"
    try:
        return fmt.format(value)
    except (TypeError, ValueError):
        return str(value)


def format_table(rows: Iterable[dict[str, Any]]) -> str:
    """A fixed-width table of transfers, one line each."""
    cells = [[name for name, _, _ in COLUMNS]]
    for row in sorted(rows, key=lambda r: (r["task"], r["codec"], r.get("bpp") or 0.0)):
        cells.append([_cell(row, key, fmt) for _, key, fmt in COLUMNS])
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summarise(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean bpp, PSNR and F1 per (task, codec) over processed transfers."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["state"] == "processed":
            groups[(row["task"], row["codec"])].append(row)
    summary = []
    for (task, codec), members in sorted(groups.items()):
        summary.append(
            {
                "task": task,
                "codec": codec,
                "quality": f"n={len(members)}",
                "bpp": _mean(members, "bpp"),
                "payload_bpp": _mean(members, "payload_bpp"),
                "psnr_db": _mean(members, "psnr_db"),
                "f1_positive": _mean(members, "f1_positive"),
                "f1_macro": _mean(members, "f1_macro"),
                "link_seconds": _mean(members, "link_seconds"),
                "state": "processed",
            }
        )
    return summary


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [float(r[key]) for r in rows if r.get(key) is not None]
    return sum(values) / len(values) if values else None
