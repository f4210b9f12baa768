"""Matplotlib without pyplot: figures rendered to PNG bytes, safe to call from request threads.

Every chart and panel distinguishes its series by marker, line style or hatch as well as by
colour, so that it reads in greyscale and for colour-blind viewers (Okabe-Ito palette).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", ":", "-.")
DPI = 100

# Agg keeps global state (font cache, mathtext parser); one figure is drawn at a time.
_DRAW_LOCK = threading.Lock()


@contextmanager
def figure(
    width_in: float, height_in: float, rc: dict[str, Any] | None = None, **kwargs: Any
) -> Iterator[Any]:
    """A fresh :class:`matplotlib.figure.Figure`, drawn under the module's lock.

    Args:
        width_in: width in inches (``DPI`` pixels each).
        height_in: height in inches.
        rc: rcParams to apply while the figure is built and saved (e.g. hatch colour).
        kwargs: passed to ``Figure`` (e.g. ``layout="constrained"``).
    """
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with _DRAW_LOCK, rc_context(rc or {}):
        yield Figure(figsize=(width_in, height_in), dpi=DPI, **kwargs)


def to_png(fig: Any) -> bytes:
    """Render a figure (inside :func:`figure`) to PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def style_of(index: int) -> dict[str, Any]:
    """Colour, marker and line style of the ``index``-th series (all three differ)."""
    return {
        "color": PALETTE[index % len(PALETTE)],
        "marker": MARKERS[index % len(MARKERS)],
        "linestyle": LINESTYLES[index % len(LINESTYLES)],
    }


def empty_chart(title: str, message: str, width_in: float = 6.0, height_in: float = 3.6) -> bytes:
    """A chart that says why it has nothing to show yet (still a valid PNG)."""
    with figure(width_in, height_in, layout="constrained") as fig:
        ax = fig.add_subplot()
        ax.set_title(title)
        ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return to_png(fig)
