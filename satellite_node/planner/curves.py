"""Expected segmentation quality against rate: F1 of the positive class as a function of bpp.

A curve is a table of measured points (bpp, f1_positive) per (task, codec), interpolated linearly
in log(bpp), held flat above its last point and falling linearly to 0 at 0 bpp below its first.
The seeded table (:data:`SEED_POINTS`) is a prior, not a measurement of this project: its
plateaus are the paper's Table 1 (F1+ of the uncompressed U-Nets: fire 0.665, cloud 0.792,
building 0.448) and its fall-off below about 0.25 bits per sample follows the shape of the
paper's Fig. 2 (F1 nearly flat down to a knee, then dropping).
Measured points replace it where they exist: :meth:`CurveBook.shipped` reads
``shared/assets/curves/f1_vs_bpp.csv`` (``eodl evaluate f1-curve``: the shipped U-Net on decoded
held-out scenes, the ground's own view; provenance in the ``.json`` beside it) and keeps the
prior only for the (task, codec) pairs it lacks; :meth:`CurveBook.source` says which is used.
:func:`curves_from_csv` also reads the ``seg-vs-rate.csv`` of ``eodl experiment seg-vs-rate``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.errors import ConfigurationError, DatasetError, UnknownNameError

PRIOR_SOURCE = "prior (the paper's Table 1 plateaus, its Fig. 2 shape)"

#: (task, codec) -> ((bpp, f1_positive), ...): a prior from the paper's Table 1 and Fig. 2 shape.
SEED_POINTS: dict[tuple[str, str], tuple[tuple[float, float], ...]] = {
    ("fire", "jpeg2000"): ((0.25, 0.30), (0.5, 0.50), (1.0, 0.62), (2.0, 0.66), (4.0, 0.665)),
    ("cloud", "jpeg2000"): ((0.05, 0.55), (0.1, 0.70), (0.25, 0.77), (0.5, 0.79), (1.0, 0.792)),
    ("building", "jpeg2000"): ((0.5, 0.20), (1.25, 0.33), (2.5, 0.41), (5.0, 0.44), (10.0, 0.448)),
    ("building", "cheng2020-gmm"): ((0.1, 0.30), (0.3, 0.40), (0.6, 0.44), (1.2, 0.448)),
}


@dataclass(frozen=True)
class F1Curve:
    """Measured (or seeded) F1+ against bpp for one task and codec; points sorted by bpp."""

    task: str
    codec: str
    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if not self.points or any(b <= 0 or not 0 <= f <= 1 for b, f in self.points):
            raise ConfigurationError(
                f"F1 curve {self.task}/{self.codec} needs points with bpp > 0 and F1 in [0, 1], "
                f"got {self.points}"
            )
        object.__setattr__(self, "points", tuple(sorted(self.points)))

    def f1_at(self, bpp: float) -> float:
        """Expected F1+ at ``bpp`` (log-linear between points, see the module docstring)."""
        pts = self.points
        if bpp <= pts[0][0]:
            return pts[0][1] * max(bpp, 0.0) / pts[0][0]
        if bpp >= pts[-1][0]:
            return pts[-1][1]
        for (b0, f0), (b1, f1) in zip(pts, pts[1:], strict=False):
            if b0 <= bpp <= b1:
                t = (math.log(bpp) - math.log(b0)) / (math.log(b1) - math.log(b0))
                return f0 + t * (f1 - f0)
        return pts[-1][1]


class CurveBook:
    """The F1 curves the planner reads, by (task, codec)."""

    def __init__(
        self, curves: Iterable[F1Curve], sources: Mapping[tuple[str, str], str] | None = None
    ) -> None:
        self._curves = {(c.task, c.codec): c for c in curves}
        self._sources = dict(sources or {})

    @classmethod
    def seeded(
        cls, points: Mapping[tuple[str, str], tuple[tuple[float, float], ...]] = SEED_POINTS
    ) -> CurveBook:
        """The prior table (see the module docstring for where its numbers come from)."""
        curves = [F1Curve(task, codec, pts) for (task, codec), pts in points.items()]
        return cls(curves, {(c.task, c.codec): PRIOR_SOURCE for c in curves})

    @classmethod
    def shipped(cls, path: Path | None = None) -> CurveBook:
        """The measured curves of ``path`` (default: the shipped table), the priors for every
        (task, codec) it does not measure.

        Raises:
            DatasetError: the file exists but is not a curve table.
        """
        path = path or shipped_curves_path()
        book = cls.seeded()
        if path.is_file():
            for key, curve in curves_from_csv(path)._curves.items():
                book._curves[key] = curve
                book._sources[key] = f"measured ({path.name}, eodl evaluate f1-curve)"
        return book

    def source(self, task: str, codec: str) -> str:
        """Where the (task, codec) curve comes from: measured, or the prior."""
        self.curve(task, codec)
        return self._sources.get((task, codec), "given")

    def sources(self) -> dict[str, str]:
        """``{"task/codec": source}`` for every curve held."""
        return {f"{t}/{c}": self.source(t, c) for t, c in sorted(self._curves)}

    def curve(self, task: str, codec: str) -> F1Curve:
        """The curve of (task, codec); a missing one lists those known."""
        try:
            return self._curves[(task, codec)]
        except KeyError:
            known = ", ".join(f"{t}/{c}" for t, c in sorted(self._curves))
            raise UnknownNameError(
                f"no F1-vs-bpp curve for {task}/{codec}; known: {known}. Run "
                "`eodl experiment seg-vs-rate` and load its CSV with curves_from_csv"
            ) from None

    def f1_at(self, task: str, codec: str, bpp: float) -> float:
        """Expected F1+ of a scene of ``task`` sent with ``codec`` at ``bpp``."""
        return self.curve(task, codec).f1_at(bpp)


def shipped_curves_path() -> Path:
    """The F1-vs-bpp table shipped with the package (``shared/assets/curves/``)."""
    import shared

    return Path(shared.__file__).resolve().parent / "assets" / "curves" / "f1_vs_bpp.csv"


def curves_from_csv(path: Path) -> CurveBook:
    """Curves from a ``seg-vs-rate.csv`` (rows with a numeric bpp; ``uncompressed`` rows skipped).

    Raises:
        DatasetError: the file is missing or lacks the columns task, codec, bpp, f1_positive.
    """
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise DatasetError(f"cannot read F1 curves from {path}: {exc}") from exc
    table: dict[tuple[str, str], list[tuple[float, float]]] = {}
    try:
        for row in rows:
            if row["codec"] == "uncompressed":
                continue
            table.setdefault((row["task"], row["codec"]), []).append(
                (float(row["bpp"]), float(row["f1_positive"]))
            )
    except (KeyError, ValueError) as exc:
        raise DatasetError(
            f"{path} is not a seg-vs-rate table (task, codec, bpp, f1_positive): {exc}"
        ) from exc
    return CurveBook(F1Curve(t, c, tuple(p)) for (t, c), p in table.items())
