"""PNG figures of the experiments: rate-distortion and F1-against-bpp curves per task, and the
baseline beside the paper's Table 1. Matplotlib's Agg backend is chosen when a plot is drawn."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from types import ModuleType

from workbench.experiments.runner import as_float


def pyplot() -> ModuleType:
    """Matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _curves(rows: list[dict[str, str]], x: str, y: str) -> dict[str, list[tuple[float, float]]]:
    curves: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in rows:
        xv, yv = as_float(row[x]), as_float(row[y])
        if math.isfinite(xv) and math.isfinite(yv):
            curves[row["codec"]].append((xv, yv))
    return {k: sorted(v) for k, v in curves.items()}


def plot_curves(
    rows: list[dict[str, str]],
    x: str,
    y: str,
    title: str,
    ylabel: str,
    path: Path,
    flat: tuple[str, ...] = (),
    markers: tuple[str, ...] = (),
) -> Path:
    """One line per codec of ``y`` against ``x`` (log x); codecs in ``flat`` are drawn as
    horizontal reference lines (a single point, e.g. uncompressed), those in ``markers`` as
    single black markers (reference points such as a band-mean image)."""
    from matplotlib.ticker import NullFormatter

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for codec, points in sorted(_curves(rows, x, y).items()):
        if codec in markers:
            symbol = "kx" if codec == markers[0] else "k+"
            ax.plot([p[0] for p in points], [p[1] for p in points], symbol, ms=9, label=codec)
            continue
        if codec in flat:
            ax.axhline(
                points[0][1], linestyle="--", color="grey", label=f"{codec} ({points[0][0]:g} bpp)"
            )
            continue
        style = "s-" if codec.startswith("jpeg") else "o-"  # classical codecs: squares
        ax.plot([p[0] for p in points], [p[1] for p in points], style, label=codec)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # minor log labels overlap the major ones
    ax.set_xlabel("bpp (container bits / H x W, real bitstreams)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_baseline(rows: list[dict[str, str]], path: Path) -> Path:
    """Bars of F1 (positive class) per task and backbone, the paper's figure as a marker."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    labels = [f"{r['task']}\n{r['backbone']}" for r in rows]
    ours = [as_float(r["f1_positive"]) for r in rows]
    paper = [as_float(r["paper_f1_positive"]) for r in rows]
    ax.bar(range(len(rows)), ours, color="tab:blue", label="ours: F1 positive")
    ax.plot(range(len(rows)), paper, "r*", markersize=12, label="paper Table 1")
    ax.set_xticks(range(len(rows)), labels, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1 of the positive class (held-out scenes)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
