"""Recompute the stored BD figures of measured comparisons from their points, under the current
rules of :mod:`shared.metrics.bdrate` (no measurement is repeated).

Each JSON (the format of ``eodl evaluate codec --json``: ``points`` tagged with their ``set``,
and ``bd`` per set) gets its ``bd`` entries rewritten: the test codec's points against JPEG
2000's of the same set. Then ``python scripts/campaign/table.py`` and ``python
scripts/classical/table.py`` rewrite the pages.

Usage: python scripts/refresh_bd.py FILE.json [...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from workbench.training.codec_report import bd_figures

ANCHOR = "jpeg2000"


def refresh(path: Path) -> list[str]:
    """Rewrite ``path``'s ``bd`` entries; return one line per set that changed."""
    data = json.loads(path.read_text())
    changed = []
    for entry in data.get("bd", []):
        points = [p for p in data["points"] if p["set"] == entry["set"]]
        anchor = [p for p in points if p["codec"] == ANCHOR]
        tested = [p for p in points if p["codec"] != ANCHOR]
        fresh = bd_figures(tested, anchor)
        if any(entry.get(k) != v for k, v in fresh.items()):
            changed.append(f"{path.name} {entry['set']}: {entry} -> {fresh}")
        entry.update(fresh)
    path.write_text(json.dumps(data, indent=1) + "\n")
    return changed


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for name in sys.argv[1:]:
        print("\n".join(refresh(Path(name))) or f"{name}: unchanged")
