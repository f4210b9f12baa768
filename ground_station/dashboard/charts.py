"""The dashboard's charts as PNG: PSNR and F1 against bpp per codec and task (the paper's
Figures 2 and 3, live from the transfers), received link throughput with the observed contacts,
and the ground's queue depth."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from ground_station.dashboard.render import empty_chart, figure, style_of, to_png
from ground_station.dashboard.series import TransferPoint, link_activity, queue_depth, rate_curves

if TYPE_CHECKING:
    from matplotlib.axes import Axes

ChartName = Literal["psnr-bpp", "f1-bpp", "link", "queue"]
CHART_NAMES: tuple[str, ...] = ("psnr-bpp", "f1-bpp", "link", "queue")
_METRICS = {
    "psnr-bpp": ("psnr_db", "PSNR (dB)", "PSNR against bpp"),
    "f1-bpp": ("f1_positive", "F1 of the positive class", "F1 against bpp"),
}


def rate_chart(points: list[TransferPoint], name: str) -> bytes:
    """One panel per task, one series per codec: every transfer, and a line through the means
    per rate target (marker, line style and colour all differ between codecs)."""
    metric, label, title = _METRICS[name]
    curves = rate_curves(points, metric)
    if not curves:
        return empty_chart(title, f"no processed transfer has bpp and {label} yet")
    codecs = sorted({curve.codec for task_curves in curves.values() for curve in task_curves})
    tasks = sorted(curves)
    with figure(4.2 * len(tasks) + 0.6, 3.8, layout="constrained") as fig:
        axes = fig.subplots(1, len(tasks), squeeze=False)[0]
        for ax, task in zip(axes, tasks, strict=True):
            for curve in curves[task]:
                style = style_of(codecs.index(curve.codec))
                ax.scatter(
                    curve.bpp,
                    curve.values,
                    marker=style["marker"],
                    color=style["color"],
                    alpha=0.35,
                    s=22,
                )
                if not curve.has_targets:  # unrelated scenes: a line between them means nothing
                    style = {**style, "linestyle": "none"}
                ax.plot(curve.mean_bpp, curve.mean_values, label=curve.codec, **style)
            ax.set_title(task)
            ax.set_xlabel("bits per pixel (container)")
            ax.grid(True, alpha=0.3)
            if metric == "f1_positive":
                ax.set_ylim(-0.02, 1.02)
            ax.legend(fontsize=8, title="codec", title_fontsize=8, loc="best")
        axes[0].set_ylabel(label)
        fig.suptitle(
            f"{title}, per task and codec (line: mean per rate target; faint: each transfer)"
        )
        return to_png(fig)


def _time_axis(ax: Axes) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_xlabel("time (UTC)")
    ax.grid(True, alpha=0.3)


def link_chart(points: list[TransferPoint]) -> bytes:
    """Throughput received at the ground per time bin, contact periods hatched and labelled."""
    title = "Downlink received at the ground"
    activity = link_activity(points)
    if activity is None:
        return empty_chart(title, "no transfer has been committed yet")
    with figure(9.0, 3.6, rc={"hatch.color": "#888888"}, layout="constrained") as fig:
        ax = fig.add_subplot()
        for number, (start, stop) in enumerate(activity.contacts, 1):
            ax.axvspan(
                start,
                stop,
                facecolor="#56B4E9",
                alpha=0.18,
                hatch="//",
                label="contact observed (data arriving)" if number == 1 else None,
            )
            ax.annotate(
                f"pass {number}",
                (start, 1.0),
                xycoords=("data", "axes fraction"),
                va="top",
                fontsize=8,
            )
        ax.step(
            activity.bin_starts,
            activity.kbit_s,
            where="post",
            color="#000000",
            label=f"received throughput ({activity.bin_seconds:.2g} s bins)",
        )
        ax.set_ylabel("kbit/s received")
        ax.set_ylim(bottom=0)
        _time_axis(ax)
        ax.legend(fontsize=8, loc="upper right")
        ax.set_title(f"{title}: throughput and contacts (the ground does not see the link rate)")
        return to_png(fig)


def queue_chart(points: list[TransferPoint], now: datetime) -> bytes:
    """The ground's queues over time: receiving, and committed but not yet processed."""
    title = "Ground queue depth"
    if not points:
        return empty_chart(title, "no transfers yet")
    times, receiving, waiting = queue_depth(points, now)
    with figure(9.0, 3.2, layout="constrained") as fig:
        ax = fig.add_subplot()
        ax.step(
            times,
            receiving,
            where="post",
            color="#0072B2",
            linestyle="-",
            marker="o",
            markersize=3,
            label="receiving (chunks arriving)",
        )
        ax.step(
            times,
            waiting,
            where="post",
            color="#D55E00",
            linestyle="--",
            marker="s",
            markersize=3,
            label="committed, awaiting decode and segmentation",
        )
        ax.set_ylabel("transfers")
        ax.set_ylim(bottom=0)
        _time_axis(ax)
        ax.legend(fontsize=8, loc="upper right")
        ax.set_title(title)
        return to_png(fig)


def render_chart(name: str, points: list[TransferPoint], now: datetime) -> bytes:
    """The named chart (one of ``CHART_NAMES``) as PNG bytes."""
    if name in _METRICS:
        return rate_chart(points, name)
    if name == "link":
        return link_chart(points)
    return queue_chart(points, now)
