"""How big an experiment run is: the paper-scale full mode and the tiny ``--quick`` mode.

A :class:`RunSettings` fixes every size an experiment depends on (scene counts, model widths,
training steps, rate points), so that a CSV row is reproducible from the mode alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from shared.errors import ConfigurationError

TASKS: tuple[str, ...] = ("fire", "cloud", "building")
ALL_LEARNED: tuple[str, ...] = (
    "factorized-prior",
    "scale-hyperprior",
    "mean-scale-hyperprior",
    "cheng2020-anchor",
    "cheng2020-attn",
    "cheng2020-gmm",
    "cheng2020-checkerboard",
)
#: The paper's model; seg-vs-rate and joint use it.
PAPER_CODEC = "cheng2020-gmm"
#: Paper Table 1: the best backbone per task and its (F1 positive, macro F1).
PAPER_BASELINE: dict[tuple[str, str], tuple[float, float]] = {
    ("fire", "mobilenet_v2"): (0.665, 0.830),
    ("cloud", "resnet34"): (0.792, 0.857),
    ("building", "resnet34"): (0.448, 0.720),
}
#: Paper Table 2 (building): (bpp, PSNR dB, F1) before and after joint optimisation.
PAPER_JOINT: dict[str, tuple[float, float, float, float, float, float]] = {
    "high-quality": (0.6121, 66.29, 0.7281, 0.6106, 66.64, 0.7238),
    "low-quality": (8e-5, 25.76, 0.4925, 0.4407, 49.80, 0.7090),
}


@dataclass(frozen=True)
class RunSettings:
    """Every size a run depends on.

    Attributes:
        mode: ``quick`` or ``full`` (written into every report).
        train_counts / test_counts: scenes per task in the training and held-out folders.
        codecs: learned codecs the ``rd`` experiment trains from scratch.
        rate_points: (quality, lambda) per learned rate point, lowest rate first.
        jpeg2000_bpps: JPEG 2000 target rates, lowest first.
        codec_widths: N (and M) of a learned codec per quality level, scaled down from
            CompressAI's (capacity grows with quality as in the zoo); None keeps CompressAI's.
        codec_epochs / codec_steps: epochs and the cap on steps per epoch of codec training.
        seg_*: the same for U-Net training; seg_depth and seg_channels shrink the U-Net.
        joint_epochs / joint_steps: the same for joint training.
        low_quality_lmbda: lambda of the very lossy codec of the joint low-quality start.
        crops: per task, train codecs and U-Nets on random square windows of this side (None:
            whole scenes); validation and every measurement use whole scenes.
        seg_points: rate points per codec in ``seg-vs-rate`` (the lowest and highest first;
            None: all of them).
        batch_size, lr: for codec and segmenter training.
        seed: data and weights seed.
    """

    mode: str
    train_counts: dict[str, int]
    test_counts: dict[str, int]
    codecs: tuple[str, ...]
    rate_points: tuple[tuple[int, float], ...]
    jpeg2000_bpps: dict[str, tuple[float, ...]]
    codec_widths: dict[int, int] | None
    codec_epochs: int
    codec_steps: int | None
    seg_epochs: int
    seg_steps: int | None
    seg_depth: int
    seg_channels: tuple[int, ...]
    joint_epochs: int
    joint_steps: int | None
    low_quality_lmbda: float
    crops: dict[str, int | None]
    seg_points: int | None
    batch_size: int
    lr: float
    seed: int = 7

    def counts(self, task: str) -> tuple[int, int]:
        """(training scenes, held-out scenes) of a task."""
        return self.train_counts[task], self.test_counts[task]

    def seg_subset(self, points: tuple) -> tuple:
        """The rate points ``seg-vs-rate`` uses: all, or the lowest and highest first."""
        if self.seg_points is None or len(points) <= self.seg_points:
            return points
        ends = (points[0], points[-1])
        inner = points[1:-1][: max(self.seg_points - 2, 0)]
        return tuple(sorted(set(ends) | set(inner), key=points.index))


QUICK = RunSettings(
    mode="quick",
    train_counts={"fire": 40, "cloud": 10, "building": 16},
    test_counts={"fire": 8, "cloud": 2, "building": 4},
    # scale-hyperprior is left out of quick mode: after a few dozen steps its hyperprior's
    # entropy models are unfit and its real rates are not ordered by lambda (measured on cloud:
    # 0.048, 0.618, 0.099 bpp for q1..q3); the full mode trains every learned codec.
    codecs=("factorized-prior", PAPER_CODEC),
    rate_points=((1, 0.01), (2, 1e3), (3, 1e5)),
    jpeg2000_bpps={
        "fire": (1.0, 2.0, 4.0),
        "cloud": (0.05, 0.2, 1.0),
        "building": (0.2, 1.0, 4.0),
    },
    codec_widths={1: 8, 2: 16, 3: 32},
    codec_epochs=6,
    codec_steps=8,
    seg_epochs=4,
    seg_steps=6,
    seg_depth=3,
    seg_channels=(32, 16, 8),
    joint_epochs=2,
    joint_steps=4,
    low_quality_lmbda=1e-3,
    crops={"fire": None, "cloud": 64, "building": 64},
    seg_points=2,
    batch_size=4,
    lr=3e-3,
)

FULL = RunSettings(
    mode="full",
    train_counts={"fire": 571, "cloud": 528, "building": 4000},
    test_counts={"fire": 100, "cloud": 80, "building": 500},
    codecs=ALL_LEARNED,
    rate_points=((1, 30.0), (2, 100.0), (3, 300.0), (4, 1000.0), (5, 3000.0), (6, 10000.0)),
    jpeg2000_bpps={
        "fire": (0.25, 0.5, 1.0, 2.0, 4.0, 8.0),
        "cloud": (0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0),
        "building": (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0),
    },
    codec_widths=None,
    codec_epochs=100,
    codec_steps=None,
    seg_epochs=50,
    seg_steps=None,
    seg_depth=5,
    seg_channels=(256, 128, 64, 32, 16),
    joint_epochs=20,
    joint_steps=None,
    low_quality_lmbda=0.01,
    crops={"fire": None, "cloud": None, "building": None},
    seg_points=None,
    batch_size=8,
    lr=1e-3,
)


def get_settings(quick: bool) -> RunSettings:
    """The quick or the full settings."""
    return QUICK if quick else FULL


def with_codecs(settings: RunSettings, codecs: tuple[str, ...]) -> RunSettings:
    """The same settings with another list of learned codecs (unknown names refused)."""
    unknown = [c for c in codecs if c not in ALL_LEARNED]
    if unknown:
        raise ConfigurationError(
            f"unknown learned codec(s) {', '.join(unknown)}; valid: {', '.join(ALL_LEARNED)}"
        )
    return replace(settings, codecs=codecs)


def expand_tasks(task: str) -> tuple[str, ...]:
    """``all`` or one task name, as a tuple of tasks; an unknown name lists the valid ones."""
    if task == "all":
        return TASKS
    if task not in TASKS:
        raise ConfigurationError(f"unknown task {task!r}; valid: {', '.join(TASKS)} or all")
    return (task,)
