"""Several seeds of one study, side by side: the mean and the spread of every figure.

Each seed is a separate output folder of ``eodl experiment ... --seed S`` (its own generated
training and held-out scenes and its own U-Nets; the codecs may be shared). Rows of
``seg-vs-rate.csv`` are matched across seeds by task, codec and rung (the k-th lowest bpp of
that codec: the same rate target, whose measured bpp differs a little from seed to seed);
``baseline.csv`` rows by task and backbone. A rung that not every seed reached is left out
and said so.

Usage:
    python -m workbench.experiments.seeds --out DIR SEED_DIR [SEED_DIR ...]
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from workbench.experiments import baseline, seg_vs_rate
from workbench.experiments.runner import as_float


@dataclass(frozen=True)
class Spread:
    """Mean, sample standard deviation and range of one figure over the seeds."""

    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        """The mean over the seeds."""
        return statistics.fmean(self.values)

    @property
    def sd(self) -> float:
        """The sample standard deviation (nan with one seed)."""
        return statistics.stdev(self.values) if len(self.values) > 1 else math.nan

    def cell(self, digits: int = 3) -> str:
        """``mean ± sd (min-max)``, or the value alone for one seed."""
        if len(self.values) == 1:
            return f"{self.values[0]:.{digits}f}"
        low, high = min(self.values), max(self.values)
        return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def rungs(folders: list[Path]) -> tuple[dict[tuple[str, str, int], list[dict]], list[str]]:
    """seg-vs-rate rows per (task, codec, rung) over the seeds, and what was left out."""
    per_seed = []
    for folder in folders:
        grouped: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for row in seg_vs_rate.table(folder).rows:
            grouped[(row["task"], row["codec"])].append(row)
        per_seed.append(
            {key: sorted(rows, key=lambda r: as_float(r["bpp"])) for key, rows in grouped.items()}
        )
    out: dict[tuple[str, str, int], list[dict]] = {}
    notes = []
    for key in sorted({k for seed in per_seed for k in seed}):
        counts = [len(seed.get(key, [])) for seed in per_seed]
        if len(set(counts)) > 1:
            notes.append(
                f"{key[0]} {key[1]}: {min(counts)} of {max(counts)} rungs in every seed "
                f"(rungs per seed: {counts}); the rungs beyond the common ones are left out"
            )
        for rung in range(min(counts)):
            out[(key[0], key[1], rung)] = [seed[key][rung] for seed in per_seed]
    return out, notes


def seg_vs_rate_table(folders: list[Path]) -> list[str]:
    """Markdown rows of F1 against bpp, mean and spread over the seeds."""
    grouped, notes = rungs(folders)
    lines = [
        "| task | codec | rung | bpp (mean) | F1+ | macro F1 |",
        "|---|---|---|---|---|---|",
    ]
    for (task, codec, rung), rows in grouped.items():
        bpp = Spread(tuple(as_float(r["bpp"]) for r in rows))
        f1 = Spread(tuple(as_float(r["f1_positive"]) for r in rows))
        macro = Spread(tuple(as_float(r["f1_macro"]) for r in rows))
        lines.append(
            f"| {task} | {codec} | {rung} | {bpp.mean:.4g} | {f1.cell()} | {macro.cell()} |"
        )
    return lines + [""] + [f"- {note}" for note in notes]


def plot_seeds(out: Path, folders: list[Path]) -> list[Path]:
    """``OUT/seeds-TASK.png``: F1+ against bpp per codec, mean over the seeds with the sample
    sd as error bars (log bpp); the uncompressed F1+ as a dashed line."""
    from workbench.experiments.plots import pyplot

    grouped, _ = rungs(folders)
    curves: dict[str, dict[str, list[tuple[float, Spread]]]] = defaultdict(dict)
    for (task, codec, _rung), rows in grouped.items():
        bpp = statistics.fmean(as_float(r["bpp"]) for r in rows)
        f1 = Spread(tuple(as_float(r["f1_positive"]) for r in rows))
        curves[task].setdefault(codec, []).append((bpp, f1))
    plt, paths = pyplot(), []
    for task, by_codec in sorted(curves.items()):
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        for codec, points in sorted(by_codec.items()):
            if codec == seg_vs_rate.UNCOMPRESSED:
                ax.axhline(points[0][1].mean, linestyle="--", color="grey", label=codec)
                continue
            points.sort(key=lambda p: p[0])
            ax.errorbar(
                [p[0] for p in points],
                [p[1].mean for p in points],
                yerr=[0.0 if math.isnan(p[1].sd) else p[1].sd for p in points],
                fmt="s-" if codec.startswith("jpeg") else "o-",
                capsize=3,
                label=codec,
            )
        ax.set_xscale("log")
        ax.set_xlabel("bpp (container bits / H x W, real bitstreams; mean over seeds)")
        ax.set_ylabel("F1 of the positive class (mean ± sd over seeds)")
        ax.set_title(f"{task}: U-Net retrained per rate point, {len(folders)} seeds")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"seeds-{task}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def baseline_table(folders: list[Path]) -> list[str]:
    """Markdown rows of the clean U-Nets' F1, mean and spread over the seeds."""
    grouped: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for folder in folders:
        for row in baseline.table(folder).rows:
            grouped[(row["task"], row["backbone"])].append(row)
    lines = ["| task | backbone | seeds | F1+ | macro F1 |", "|---|---|---|---|---|"]
    for (task, backbone), rows in sorted(grouped.items()):
        f1 = Spread(tuple(as_float(r["f1_positive"]) for r in rows))
        macro = Spread(tuple(as_float(r["f1_macro"]) for r in rows))
        lines.append(f"| {task} | {backbone} | {len(rows)} | {f1.cell()} | {macro.cell()} |")
    return lines


def write_page(out: Path, folders: list[Path], command: str) -> Path:
    """``OUT/seeds.md``: the baseline and F1 against bpp over the seed folders."""
    names = ", ".join(f"`{f}`" for f in folders)
    lines = [
        "## Seeds side by side: mean ± sample sd (min-max)",
        "",
        f"Written by `{command}` from {len(folders)} seed folders ({names}). Each seed has its "
        "own generated training and held-out scenes and its own U-Nets; the codecs are the "
        "shipped ones (one per task, not retrained per seed).",
        "",
        "### Clean U-Nets (Table 1)",
        "",
        *baseline_table(folders),
        "",
        "### F1 against bpp, U-Net retrained per rate point (Fig. 2 protocol)",
        "",
        *seg_vs_rate_table(folders),
    ]
    out.mkdir(parents=True, exist_ok=True)
    lines += ["", *(f"![{p.stem}]({p.name})" for p in plot_seeds(out, folders))]
    path = out / "seeds.md"
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path


def main() -> None:
    """Parse the folders and write the page."""
    import shlex
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("folders", type=Path, nargs="+")
    args = parser.parse_args()
    command = "python -m workbench.experiments.seeds " + shlex.join(sys.argv[1:])
    print(write_page(args.out, args.folders, command))


if __name__ == "__main__":
    main()
