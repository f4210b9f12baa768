"""The markdown section (and PNG plots) of each experiment, drawn from its CSV."""

from __future__ import annotations

from pathlib import Path

from shared.experiments import baseline, joint, rd, seg_vs_rate
from shared.experiments.plots import plot_baseline, plot_curves
from shared.experiments.report import bd_rate_table, csv_table, markdown_table, write_section
from shared.experiments.runner import as_float
from shared.experiments.settings import PAPER_JOINT


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
        f"{rd.TRANSFER_SOURCE} codec's inner layers and fine-tuned (Fig. 3b).",
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
