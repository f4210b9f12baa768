"""Resumable experiment bookkeeping: CSV tables that skip finished rows, and the work folder.

Every finished row is appended and flushed at once, so a run killed half-way resumes where it
stopped: a row whose key columns are already in the CSV is not computed again. Trained
checkpoints and generated data live under ``OUT/work/`` and are reused on a rerun as well.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.errors import ConfigurationError, DatasetError


class ResultsTable:
    """A CSV file of one experiment with fixed columns and key columns identifying a row."""

    def __init__(self, path: Path, columns: tuple[str, ...], key: tuple[str, ...]) -> None:
        self.path, self.columns, self.key = Path(path), columns, key
        self.rows: list[dict[str, str]] = self._read()

    def _read(self) -> list[dict[str, str]]:
        if not self.path.is_file():
            return []
        with self.path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != self.columns:
                raise DatasetError(
                    f"{self.path} has columns {reader.fieldnames}, expected "
                    f"{list(self.columns)}; move it away or pass another --out"
                )
            return list(reader)

    def _key_of(self, row: dict[str, Any]) -> tuple[str, ...]:
        return tuple(_cell(row[k]) for k in self.key)

    def has(self, **key: Any) -> bool:
        """True when a row with these key values is already in the CSV."""
        wanted = self._key_of(key)
        return any(self._key_of(row) == wanted for row in self.rows)

    def append(self, row: dict[str, Any]) -> None:
        """Write one finished row (all columns) and flush it to disk."""
        missing = [c for c in self.columns if c not in row]
        if missing:
            raise ConfigurationError(f"row for {self.path.name} lacks columns {missing}")
        cells = {c: _cell(row[c]) for c in self.columns}
        new = not self.path.is_file()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(self.columns))
            if new:
                writer.writeheader()
            writer.writerow(cells)
        self.rows.append(cells)

    def drop(self, **key: Any) -> int:
        """Remove the rows whose given columns equal the given values; rewrite the CSV."""
        kept = [r for r in self.rows if not all(r[k] == _cell(v) for k, v in key.items())]
        dropped = len(self.rows) - len(kept)
        if dropped:
            with self.path.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(self.columns))
                writer.writeheader()
                writer.writerows(kept)
            self.rows = kept
        return dropped

    def select(self, **key: Any) -> list[dict[str, str]]:
        """Rows whose given columns equal the given values."""
        return [r for r in self.rows if all(r[k] == _cell(v) for k, v in key.items())]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.6g}"
    return str(value)


def as_float(cell: str) -> float:
    """A CSV cell as a float (empty cells are NaN)."""
    return float(cell) if cell not in ("", None) else math.nan


@dataclass(frozen=True)
class Workspace:
    """Folders of one ``--out``: results beside ``work/`` (data, checkpoints, decoded data)."""

    out: Path

    @property
    def work(self) -> Path:
        return self.out / "work"

    def data(self, task: str, split: str) -> Path:
        return self.work / "data" / task / split

    def checkpoint(self, *parts: str) -> Path:
        path = self.work.joinpath("checkpoints", *parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def record_timing(out: Path, name: str, seconds: float, tasks: tuple[str, ...]) -> None:
    """Add an experiment's wall time to ``OUT/timings.json`` (the report reads it)."""
    path = Path(out) / "timings.json"
    timings = json.loads(path.read_text()) if path.is_file() else {}
    timings[name] = {"seconds": round(seconds, 1), "tasks": list(tasks)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(timings, indent=2) + "\n")


@contextmanager
def timed(out: Path, name: str, tasks: tuple[str, ...]) -> Iterator[None]:
    """Time a block and record it under ``name`` (only when it finishes)."""
    started = time.monotonic()
    yield
    record_timing(out, name, time.monotonic() - started, tasks)
