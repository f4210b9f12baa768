"""The markdown section (and PNG plots) of each experiment, drawn from its CSV."""

from __future__ import annotations

from pathlib import Path

from workbench.experiments import baseline, joint, rd, seg_vs_rate
from workbench.experiments.plots import plot_baseline, plot_curves
from workbench.experiments.references import REFERENCES
from workbench.experiments.report import (
    _fmt,
    bd_rate_table,
    csv_table,
    markdown_table,
    write_section,
)
from workbench.experiments.runner import ResultsTable, as_float
from workbench.experiments.settings import PAPER_JOINT


def baseline_section(out: Path) -> Path:
    """Table 1 beside ours, and ``baseline.png``."""
    results = baseline.table(out)
    plot_baseline(results.rows, out / "baseline.png")
    body = [
        "## Segmentation baseline (paper Table 1)",
        "",
        "U-Net (segmentation_models_pytorch, `encoder_weights=None`) per task and backbone, "
        "trained on clean scenes, scored on held-out scenes of another generator seed. "
        "`paper_*` columns are Table 1 (the paper reports one backbone per task).",
        "",
        csv_table(results, 3),
        "",
        "![baseline](baseline.png)",
    ]
    return write_section(out, "baseline", "\n".join(body))


def rd_section(out: Path) -> Path:
    """The RD tables, the BD-rate table and one ``rd-TASK.png`` per task."""
    results, payload = rd.tables(out)
    body = [
        "## Rate-distortion (paper Fig. 3)",
        "",
        "PSNR on data normalised by the profile's global maximum against bpp measured from the "
        "real containers of the held-out scenes (header and metadata included; the payload-only "
        "bpp is in `rd-payload.csv`). `quality` is the learned codec's quality level (one "
        "trained checkpoint; lambda grows with it) or JPEG 2000's target bpp. "
        f"`{rd.TRANSFER_CODEC}` is the building codec started from the "
        f"{rd.TRANSFER_SOURCE} codec's inner layers and fine-tuned (Fig. 3b). Reference "
        "points (`workbench/experiments/references.py`): `band-mean` sends each band's mean, "
        "`block-mean-16` each 16 x 16 block's mean, uncoded at the sensor's bit depth; a codec "
        "below them at their rate does worse than a thumbnail.",
        "",
        "### BD-rate of each learned codec against JPEG 2000",
        "",
        bd_rate_table(results, payload),
        "",
        "### Rate points",
        "",
        csv_table(results),
    ]
    for task in dict.fromkeys(r["task"] for r in results.rows):
        name = f"rd-{task}.png"
        plot_curves(
            results.select(task=task),
            "bpp",
            "psnr_db",
            f"{task}: rate-distortion",
            "PSNR [dB]",
            out / name,
            markers=REFERENCES,
        )
        body += ["", f"![rd {task}]({name})"]
    return write_section(out, "rd", "\n".join(body))


def seg_vs_rate_section(out: Path) -> Path:
    """F1 against bpp per task, and one ``seg-vs-rate-TASK.png`` per task."""
    results = seg_vs_rate.table(out)
    body = [
        "## Segmentation under bit-rate reduction (paper Fig. 2)",
        "",
        "At each rate point the U-Net (the paper's backbone for the task) is retrained on the "
        "decoded training scenes and scored on the decoded held-out scenes; bpp is that of the "
        "held-out containers. `uncompressed` is the clean baseline at the raw bit depth.",
        "",
        csv_table(results, 3),
    ]
    for task in dict.fromkeys(r["task"] for r in results.rows):
        name = f"seg-vs-rate-{task}.png"
        plot_curves(
            results.select(task=task),
            "bpp",
            "f1_positive",
            f"{task}: segmentation under compression",
            "F1 of the positive class",
            out / name,
            flat=(seg_vs_rate.UNCOMPRESSED,),
        )
        body += ["", f"![seg-vs-rate {task}]({name})"]
    return write_section(out, "seg-vs-rate", "\n".join(body))


def joint_section(out: Path) -> Path:
    """Table 2 beside ours."""
    results = joint.table(out)
    paper_rows = [
        (f"paper, building: {name} start", *(f"{v:.4g}" for v in values))
        for name, values in PAPER_JOINT.items()
    ]
    body = [
        "## Joint end-to-end optimisation (paper Appendix B, Table 2)",
        "",
        "L = lambda MSE + R + gamma BCE from pretrained codec and U-Net; lambda 10, gamma 1e-3 "
        "(high-quality start) and 1e-2 (low-quality start). Figures before (`_prior`) and after, "
        "on real bitstreams of the validation scenes; `f1` is the macro F1, as in Table 2.",
        "",
        csv_table(results),
        "",
        "The paper's Table 2:",
        "",
        markdown_table(joint.COLUMNS, paper_rows),
    ]
    changes = [
        f"{r['scenario']}: F1 {as_float(r['f1_prior']):.3f} -> {as_float(r['f1']):.3f}, "
        f"bpp {as_float(r['bpp_prior']):.3g} -> {as_float(r['bpp']):.3g}"
        for r in results.rows
    ]
    if changes:
        body += ["", "Change through joint training: " + "; ".join(changes) + "."]
    return write_section(out, "joint", "\n".join(body))


def roi_section(out: Path) -> Path:
    """ROI against plain coding at equal total bytes, and one ``roi-TASK.png`` per task."""
    from workbench.experiments import roi
    from workbench.experiments.settings import TASKS

    results = roi.table(out)
    covered = list(dict.fromkeys(r["task"] for r in results.rows))
    body = [
        "## Region-of-interest coding at equal total bytes",
        "",
        "Every held-out scene is coded plainly (`roi` 0) into the budget's total container "
        "bytes (header, metadata and payload), then with the onboard detector's mask as ROI "
        "(`roi` 1; fire: MWIR brightness temperature > 360 K, cloud: LWIR < 265 K) into the "
        "bytes its plain container took; the ROI record in the metadata is paid from them. "
        f"JPEG 2000 lands within {roi.MATCH_TOLERANCE:.0%} of each budget; a learned codec "
        "(one rate per trained checkpoint) takes the largest container that fits, so its ROI "
        "row may use fewer bytes than its plain row (compare `total_bytes`). `f1_positive`: "
        "the ground's shipped U-Net on the decoded scenes, pooled over pixels. PSNR "
        "(normalised data) is pooled inside the coded ROI (its block grid, as the container "
        "records it) and outside.",
        "",
        _roi_table(results.rows),
    ]
    left_out = [t for t in TASKS if t not in covered]
    if left_out:
        body += [
            "",
            f"No ROI rows for {', '.join(left_out)}: building has no onboard detector worth "
            "steering bits with (its NDBI threshold finds roofs with pixel F1 0.10 on "
            "generated tiles), and a task not run here has no rows.",
        ]
    body += ["", _roi_findings(results.rows)]
    unreachable = roi.skipped(out)
    if unreachable:
        body += ["", "Budgets with no rows (a scene could not be coded into them):", ""]
        body += [f"- {line}" for line in unreachable]
    for task in covered:
        rows = [
            {**r, "codec": r["codec"] + (" + ROI" if r["roi"] == "1" else "")}
            for r in results.select(task=task)
        ]
        name = f"roi-{task}.png"
        plot_curves(
            rows, "bpp", "psnr_roi_db", f"{task}: PSNR inside the ROI", "PSNR [dB]", out / name
        )
        body += ["", f"![roi {task}]({name})"]
    return write_section(out, "roi", "\n".join(body))


def _roi_table(rows: list[dict[str, str]]) -> str:
    """``roi.csv`` as markdown, byte counts as integers."""
    from workbench.experiments import roi

    cells = [
        tuple(
            r[c] if c in ("task", "codec", "roi", "total_bytes") else _fmt(r[c], 4)
            for c in roi.COLUMNS
        )
        for r in rows
    ]
    return markdown_table(roi.COLUMNS, cells)


def _roi_findings(rows: list[dict[str, str]]) -> str:
    """Per budget, what ROI coding changed against the plain row before it, and a tally."""
    plain: dict[tuple[str, str], dict[str, str]] = {}
    lines, above, gained, pairs = [], 0, 0, 0
    for r in rows:
        if r["roi"] == "0":
            plain[(r["task"], r["codec"])] = r
            continue
        base = plain.get((r["task"], r["codec"]))
        if base is None:
            continue
        inside, outside = as_float(r["psnr_roi_db"]), as_float(r["psnr_background_db"])
        pairs += 1
        above += inside > outside
        gained += inside > as_float(base["psnr_roi_db"])
        lines.append(
            f"- {r['task']}, {r['codec']}, {as_float(r['bpp']):.3g} bpp: inside the ROI "
            f"{as_float(base['psnr_roi_db']):.2f} -> {inside:.2f} dB, background "
            f"{as_float(base['psnr_background_db']):.2f} -> {outside:.2f} dB, F1+ "
            f"{as_float(base['f1_positive']):.3f} -> {as_float(r['f1_positive']):.3f}"
        )
    if not pairs:
        return ""
    tally = (
        f"At equal bytes (learned codecs: no more), ROI coding raised the PSNR inside the ROI "
        f"in {gained} of {pairs} "
        f"budgets, and kept it above the background's in {above} of {pairs}."
    )
    return "What ROI coding changed (plain -> ROI):\n\n" + "\n".join(lines) + "\n\n" + tally


def budget_section(out: Path) -> Path:
    """Allocator against fixed rates per pass and in total, and ``budget.png``."""
    from workbench.experiments import budget

    results, plans = budget.tables(out)
    body = [
        "## Pass-budget rate allocation against the paper's fixed rate",
        "",
        "A queue of generated scenes (fire = alert, cloud normal, building low) grows before "
        "each pass; a pass carries link rate x pass length bytes. Every scene was encoded for "
        "real at each rung of its ladder (JPEG 2000 at the run's target bpps, the shipped "
        "cheng2020-gmm at some qualities), decoded and segmented by the ground's U-Net: "
        "`f1_positive_mean` is the measured mean per-scene F1+ of the delivered scenes (a "
        "scene with no positive pixel scores 1 when nothing is predicted, else 0), "
        "`f1_positive_pooled` the F1+ over all their pixels together, `f1_expected_mean` what "
        "the allocator expected from pooled F1-vs-bpp curves measured the same way on "
        "calibration scenes never queued, `f1_positive_sum` the per-scene F1+ delivered in "
        "all. `allocator` chooses codec and rate "
        "per scene (alerts first, never over budget); `fixed-CODEC-rK` sends every scene at "
        "the K-th rate (0 = lowest) of CODEC's ladder, in priority order while it fits. "
        "Undelivered scenes wait for the next pass.",
        "",
        "### Totals over all passes",
        "",
        _budget_rows(results, budget.TOTAL),
        "",
        "### Per pass (all tasks)",
        "",
        _budget_rows(results, None),
        "",
        _budget_findings(results.rows, plans.rows),
        "",
        f"What each pass sent, scene by scene: `{plans.path.name}`.",
    ]
    if results.rows:
        _plot_budget(results.rows, out / "budget.png")
        body += ["", "![budget](budget.png)"]
    return write_section(out, "budget", "\n".join(body))


def _budget_rows(results: ResultsTable, pass_index: str | None) -> str:
    """The ``total`` rows (every task), or the per-pass rows of all tasks together."""
    picked = [
        r
        for r in results.rows
        if (
            r["pass_index"] == pass_index
            if pass_index
            else r["pass_index"] != "total" and r["task"] == "all"
        )
    ]
    header = (
        "regime",
        "pass",
        "task",
        "budget B",
        "used B",
        "delivered / queued",
        "alerts",
        "mean F1+ (measured)",
        "pooled F1+",
        "mean F1+ (expected)",
        "F1+ delivered",
    )
    rows = [
        (
            r["regime"],
            r["pass_index"],
            r["task"],
            r["budget_bytes"],
            r["bytes_used"],
            f"{r['scenes_delivered']} / {r['scenes_queued']}",
            f"{r['alerts_delivered']} / {r['alerts_queued']}",
            _fmt(r["f1_positive_mean"], 3),
            _fmt(r["f1_positive_pooled"], 3),
            _fmt(r["f1_expected_mean"], 3),
            _fmt(r["f1_positive_sum"], 3),
        )
        for r in picked
    ]
    return markdown_table(header, rows)


def _budget_findings(rows: list[dict[str, str]], plan: list[dict[str, str]]) -> str:
    """Each regime's totals and rates in words, and the allocator against each fixed rate."""
    totals = {r["regime"]: r for r in rows if r["pass_index"] == "total" and r["task"] == "all"}
    if "allocator" not in totals:
        return ""
    lines = ["What it shows (all passes, all tasks):", ""]
    for name, r in totals.items():
        lines.append(
            f"- `{name}` ({_rates(plan, name)}): {r['scenes_delivered']} of "
            f"{r['scenes_queued']} scenes and {r['alerts_delivered']} of {r['alerts_queued']} "
            f"alerts delivered, {r['bytes_used']} of {r['budget_bytes']} bytes used, mean F1+ "
            f"{_fmt(r['f1_positive_mean'], 3)} (pooled {_fmt(r['f1_positive_pooled'], 3)}), "
            f"F1+ delivered {_fmt(r['f1_positive_sum'], 3)}"
        )
    mine = totals["allocator"]
    lines.append("")
    for name, r in totals.items():
        if name == "allocator":
            continue
        scenes = int(mine["scenes_delivered"]) - int(r["scenes_delivered"])
        gained = as_float(mine["f1_positive_sum"]) - as_float(r["f1_positive_sum"])
        lines.append(
            f"Against `{name}` the allocator delivered {scenes:+d} scenes and {gained:+.3f} "
            f"F1+ in all (mean F1+ {_fmt(mine['f1_positive_mean'], 3)} against "
            f"{_fmt(r['f1_positive_mean'], 3)}, pooled {_fmt(mine['f1_positive_pooled'], 3)} "
            f"against {_fmt(r['f1_positive_pooled'], 3)}), every alert delivered in both: "
            f"{mine['alerts_delivered'] == mine['alerts_queued']} / "
            f"{r['alerts_delivered'] == r['alerts_queued']}."
        )
    return "\n".join(lines)


def _rates(plan: list[dict[str, str]], regime: str) -> str:
    """Mean container bpp a regime sent each task at, from ``budget-plan.csv``."""
    per_task: dict[str, list[float]] = {}
    for p in plan:
        if p["regime"] == regime:
            per_task.setdefault(p["task"], []).append(as_float(p["bpp"]))
    return ", ".join(f"{t} {sum(v) / len(v):.3g} bpp" for t, v in per_task.items())


def _plot_budget(rows: list[dict[str, str]], path: Path) -> Path:
    """Per pass and regime: scenes delivered, F1+ delivered, bytes used against the budget."""
    from workbench.experiments.plots import pyplot

    plt = pyplot()
    per_pass = [r for r in rows if r["task"] == "all" and r["pass_index"] != "total"]
    regimes = list(dict.fromkeys(r["regime"] for r in per_pass))
    passes = sorted({int(r["pass_index"]) for r in per_pass})
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    width = 0.8 / max(len(regimes), 1)
    panels = (
        ("scenes_delivered", "scenes delivered"),
        ("f1_positive_sum", "F1+ delivered"),
        ("bytes_used", "bytes used"),
    )
    for ax, (column, label) in zip(axes, panels, strict=True):
        for k, regime in enumerate(regimes):
            values = {
                int(r["pass_index"]): as_float(r[column]) for r in per_pass if r["regime"] == regime
            }
            ax.bar(
                [p + k * width for p in passes],
                [values.get(p, 0.0) for p in passes],
                width,
                label=regime,
            )
        ax.set_xticks([p + 0.4 - width / 2 for p in passes], [str(p) for p in passes])
        ax.set_xlabel("pass")
        ax.set_ylabel(label)
        ax.grid(True, axis="y", alpha=0.3)
    budgets = {int(r["pass_index"]): as_float(r["budget_bytes"]) for r in per_pass}
    axes[2].plot(
        [p + 0.4 - width / 2 for p in passes],
        [budgets[p] for p in passes],
        "k_",
        markersize=30,
        label="budget",
    )
    handles, labels = axes[2].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
