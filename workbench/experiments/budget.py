"""Pass-budget rate allocation against the paper's fixed rate, over a sequence of passes.

A queue of generated scenes (fire patches are alerts, cloud scenes normal, building tiles low
priority, the satellite's defaults) grows before every pass; each pass carries the bytes of the
link profile (rate x pass length, :func:`satellite_node.planner.budget.pass_budget_bytes`). Every
queued scene is encoded for real at each rung of a ladder (JPEG 2000 at the run's target bpps,
the shipped ``cheng2020-gmm`` at some qualities); each container is decoded and segmented by
the ground's U-Net, so a delivered scene's F1+ is measured, not expected. Regimes:

- ``allocator``: :func:`satellite_node.planner.allocator.plan_pass` chooses codec and rate per scene
  from expected F1 (curves measured the same way on calibration scenes never queued), alerts
  first, never over the budget;
- ``fixed-CODEC-rRUNG``: the paper's regime, every scene at one rate (the RUNG-th of CODEC's
  ladder for its task), sent in priority order while it fits
  (:func:`satellite_node.planner.compare.fixed_rate_plan`).

Undelivered scenes wait for the next pass. ``budget.csv`` has one row per regime, pass (and
``total``) and task (and ``all``); ``budget-plan.csv`` lists what each pass sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from satellite_node.planner.allocator import ALERT_RANK, Candidate, PassPlan, QueuedScene
from shared.codecs.base import RateTarget
from shared.errors import CodecError, RateTargetError
from workbench.experiments.runner import ResultsTable, Workspace
from workbench.experiments.settings import RunSettings

COLUMNS = (
    "regime",
    "pass_index",
    "task",
    "budget_bytes",
    "bytes_used",
    "scenes_queued",
    "scenes_delivered",
    "alerts_queued",
    "alerts_delivered",
    "f1_positive_mean",
    "f1_expected_mean",
    "f1_positive_sum",
    "f1_positive_pooled",
)
KEY = ("regime", "pass_index", "task")
PLAN_COLUMNS = (
    "regime",
    "pass_index",
    "order",
    "scene_id",
    "task",
    "alert",
    "codec",
    "bpp",
    "bytes",
    "f1_expected",
    "f1_positive",
)
PLAN_KEY = ("regime", "pass_index", "order")
ALLOCATOR = "allocator"
TOTAL = "total"
ALL_TASKS = "all"
LEARNED = "cheng2020-gmm"
#: The satellite's default ranks (satellite_node.priority.TASK_DEFAULTS): fire is an alert.
PRIORITY = {"fire": ALERT_RANK, "cloud": 2, "building": 3}
PASS_PERIOD_S = 5400.0  # one pass per 90-minute orbit


@dataclass(frozen=True)
class Option:
    """One measured way to send one scene: the real container's size and the F1+ it gave.

    Attributes:
        f1_positive: the scene's own F1+ (shared.metrics; 1.0 for a correctly empty one).
        tp, fp, fn: its positive-class pixel counts, which pool F1+ over several scenes.
    """

    codec: str
    rung: int
    bpp: float
    bytes: int
    f1_positive: float
    tp: int
    fp: int
    fn: int


def pooled_f1(options: list[Option]) -> float:
    """F1+ over the pixels of all these scenes together (the pooled figure of
    :func:`shared.metrics.f1_positive` on the stacked masks, from the counts; NaN if none)."""
    if not options:
        return float("nan")
    tp, fp, fn = (sum(getattr(o, k) for o in options) for k in ("tp", "fp", "fn"))
    return 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)


def tables(out: Path) -> tuple[ResultsTable, ResultsTable]:
    """``budget.csv`` and ``budget-plan.csv`` of an output folder."""
    return (
        ResultsTable(out / "budget.csv", COLUMNS, KEY),
        ResultsTable(out / "budget-plan.csv", PLAN_COLUMNS, PLAN_KEY),
    )


def ladder(task: str, settings: RunSettings) -> list[tuple[str, int, RateTarget]]:
    """(codec, rung, target) a scene of ``task`` may be sent at, lowest rate first per codec."""
    steps = [("jpeg2000", k, RateTarget(bpp=b)) for k, b in enumerate(settings.jpeg2000_bpps[task])]
    steps += [(LEARNED, k, RateTarget(quality=q)) for k, q in enumerate(settings.budget_qualities)]
    return steps


def measure_options(
    scene_id: str, image: np.ndarray, mask: np.ndarray, task: str, settings: RunSettings
) -> list[Option]:
    """Encode a scene at every rung, decode each container, segment it; unreachable rungs
    (below JPEG 2000's marker floor) are left out.

    Raises:
        CodecError: a decoded container does not match the encoder's reconstruction.
    """
    from shared.compression import compress_raster, decompress_container
    from shared.metrics.segmentation import f1_positive
    from shared.sensors.profiles import get_profile
    from workbench.datasets.dataset import normalise
    from workbench.experiments.roi import codec_store, ground_segmenter

    profile, segmenter, options = get_profile(task), ground_segmenter(task), []
    for codec, rung, target in ladder(task, settings):
        store = codec_store(codec, task)
        try:
            scene = compress_raster(
                image,
                codec=codec,
                target=target,
                scale=profile.global_max,
                bit_depth=profile.bit_depth,
                checkpoints=store,
            )
        except RateTargetError:
            continue
        decoded = decompress_container(scene.container, checkpoints=store)
        if not np.array_equal(decoded.raster, scene.reconstruction):
            raise CodecError(f"{codec} decoded {scene_id} differently from the encoder")
        pred = segmenter.predict(normalise(decoded.raster, profile))
        size = scene.header.rate_bytes
        truth, hit = mask.astype(bool), pred.astype(bool)
        counts = (int((truth & hit).sum()), int((~truth & hit).sum()), int((truth & ~hit).sum()))
        options.append(Option(codec, rung, scene.bpp, size, f1_positive(mask, pred), *counts))
    return options


def measured_scenes(
    ws: Workspace, task: str, role: str, count: int, seed: int, settings: RunSettings
) -> dict[str, list[Option]]:
    """Options of ``count`` generated scenes (``role``: queue or calibration), cached as JSON."""
    from workbench.datasets.generate import generate_scenes

    path = ws.work / "budget" / f"{task}-{role}-s{seed}-n{count}-v2.json"
    if path.is_file():
        raw = json.loads(path.read_text())
        return {sid: [Option(**o) for o in opts] for sid, opts in raw.items()}
    found = {
        s.scene_id: measure_options(s.scene_id, s.image, s.mask, task, settings)
        for s in tqdm(
            generate_scenes(task, count, seed),
            total=count,
            desc=f"{task} {role}",
            unit="scene",
            leave=False,
        )
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: [asdict(o) for o in v] for k, v in found.items()}) + "\n")
    return found


def curve_book(calibration: dict[str, dict[str, list[Option]]]) -> Any:
    """Measured F1 curves: per (task, codec), (mean bpp, pooled F1+) of each rung (pooled, as
    the seg-vs-rate curves are: a per-scene mean would reward a codec that erases everything
    on the many tiles with no positive pixel)."""
    from satellite_node.planner.curves import CurveBook, F1Curve

    curves = []
    for task, scenes in calibration.items():
        by_rung: dict[tuple[str, int], list[Option]] = {}
        for option in (o for opts in scenes.values() for o in opts):
            by_rung.setdefault((option.codec, option.rung), []).append(option)
        for codec in dict.fromkeys(c for c, _ in by_rung):
            points = tuple(
                (float(np.mean([o.bpp for o in opts])), pooled_f1(opts))
                for (c, _), opts in sorted(by_rung.items())
                if c == codec
            )
            curves.append(F1Curve(task, codec, points))
    return CurveBook(curves)


def pass_budgets(settings: RunSettings) -> list[int]:
    """Byte budget of each simulated pass, from a link profile with one window per pass."""
    from satellite_node.link.profile import LinkProfile, PassWindow
    from satellite_node.planner.budget import pass_budget_bytes

    windows = tuple(
        PassWindow(start_s=k * PASS_PERIOD_S, end_s=k * PASS_PERIOD_S + length)
        for k, length in enumerate(settings.budget_pass_s)
    )
    profile = LinkProfile(rate_bps=settings.budget_link_bps, windows=windows)
    return [pass_budget_bytes(profile, w.start_s, horizon_s=w.end_s - w.start_s) for w in windows]


@dataclass(frozen=True)
class PassResult:
    """One simulated pass: what was queued when it started and what it carried."""

    index: int
    queue: tuple[str, ...]
    plan: PassPlan


Planner = Callable[[list[QueuedScene], int], PassPlan]


def simulate(
    arrivals: list[list[str]],
    budgets: list[int],
    offers: dict[str, QueuedScene | None],
    planner: Planner,
) -> list[PassResult]:
    """Run the passes: scenes join the queue, the planner fills each pass, the rest waits.

    Args:
        arrivals: per pass, the scene ids that join the queue before it.
        offers: each scene's queue entry under the regime (None: the regime cannot send it).
    """
    queue: list[str] = []
    results = []
    for index, (joining, budget) in enumerate(zip(arrivals, budgets, strict=True)):
        queue += joining
        sendable = [o for o in (offers[sid] for sid in queue) if o is not None]
        plan = planner(sendable, budget)
        results.append(PassResult(index, tuple(queue), plan))
        sent = {e.scene_id for e in plan.entries}
        queue = [sid for sid in queue if sid not in sent]
    return results


def _offer(sid: str, task: str, options: list[Option], curves: Any) -> QueuedScene:
    candidates = tuple(
        Candidate(o.codec, o.bpp, o.bytes, curves.f1_at(task, o.codec, o.bpp)) for o in options
    )
    return QueuedScene(sid, task, PRIORITY[task], candidates)


def regimes(
    queue: dict[str, tuple[str, list[Option]]], curves: Any, settings: RunSettings
) -> dict[str, tuple[dict[str, QueuedScene | None], Planner]]:
    """Each regime's queue entries and planner: the allocator, then the fixed rates."""
    from satellite_node.planner.allocator import plan_pass
    from satellite_node.planner.compare import fixed_rate_plan

    out: dict[str, tuple[dict[str, QueuedScene | None], Planner]] = {
        ALLOCATOR: ({s: _offer(s, t, o, curves) for s, (t, o) in queue.items()}, plan_pass)
    }
    for codec, rung in settings.budget_fixed:
        offers: dict[str, QueuedScene | None] = {}
        for sid, (task, options) in queue.items():
            pick = [o for o in options if (o.codec, o.rung) == (codec, rung)]
            offers[sid] = _offer(sid, task, pick, curves) if pick else None
        out[f"fixed-{codec}-r{rung}"] = (offers, lambda s, b: fixed_rate_plan(s, b, 0))
    return out


def _figures(
    regime: str,
    index: str,
    task: str,
    budget: int,
    queued: list[str],
    entries: list[Any],
    measured: dict[tuple[str, str, int], Option],
    alerts: set[str],
) -> dict[str, Any]:
    sent = [measured[(e.scene_id, e.candidate.codec, e.candidate.bytes)] for e in entries]
    f1 = [o.f1_positive for o in sent]
    expected = [e.candidate.f1_expected for e in entries]
    return {
        "regime": regime,
        "pass_index": index,
        "task": task,
        "budget_bytes": budget,
        "bytes_used": sum(e.candidate.bytes for e in entries),
        "scenes_queued": len(queued),
        "scenes_delivered": len(entries),
        "alerts_queued": sum(s in alerts for s in queued),
        "alerts_delivered": sum(e.alert for e in entries),
        "f1_positive_mean": float(np.mean(f1)) if f1 else float("nan"),
        "f1_expected_mean": float(np.mean(expected)) if expected else float("nan"),
        "f1_positive_sum": float(sum(f1)),
        "f1_positive_pooled": pooled_f1(sent),
    }


def regime_rows(
    regime: str,
    passes: list[PassResult],
    queue: dict[str, tuple[str, list[Option]]],
    tasks: tuple[str, ...],
) -> list[dict[str, Any]]:
    """Rows of ``budget.csv`` for one regime: per pass and in total, per task and for all."""
    measured = {(s, o.codec, o.bytes): o for s, (_, opts) in queue.items() for o in opts}
    alerts = {s for s, (t, _) in queue.items() if PRIORITY[t] <= ALERT_RANK}
    rows = []
    arrived = list(dict.fromkeys(s for p in passes for s in p.queue))
    sent = [e for p in passes for e in p.plan.entries]
    spent = sum(p.plan.budget_bytes for p in passes)
    views = [
        (str(p.index), p.plan.budget_bytes, list(p.queue), list(p.plan.entries)) for p in passes
    ] + [(TOTAL, spent, arrived, sent)]
    for index, budget, queued, entries in views:
        for task in (*tasks, ALL_TASKS):
            mine = [s for s in queued if task in (ALL_TASKS, queue[s][0])]
            picked = [e for e in entries if task in (ALL_TASKS, e.task)]
            rows.append(_figures(regime, index, task, budget, mine, picked, measured, alerts))
    return rows


def _queue(
    ws: Workspace, tasks: tuple[str, ...], settings: RunSettings
) -> tuple[dict[str, tuple[str, list[Option]]], list[list[str]], Any]:
    """The measured queue, its arrivals per pass, and the curves from the calibration scenes."""
    passes, queue, arrivals = len(settings.budget_pass_s), {}, [[] for _ in settings.budget_pass_s]
    calibration = {}
    for task in tasks:
        per_pass = settings.budget_arrivals[task]
        scenes = measured_scenes(
            ws, task, "queue", per_pass * passes, settings.seed + 2000, settings
        )
        for position, (sid, options) in enumerate(scenes.items()):
            queue[sid] = (task, options)
            arrivals[position // per_pass].append(sid)
        calibration[task] = measured_scenes(
            ws, task, "calibration", settings.budget_calibration, settings.seed + 3000, settings
        )
    return queue, arrivals, curve_book(calibration)


def plan_rows(
    regime: str, passes: list[PassResult], queue: dict[str, tuple[str, list[Option]]]
) -> list[dict[str, Any]]:
    """Rows of ``budget-plan.csv``: each scene a pass sent, in send order, with its F1+."""
    measured = {(s, o.codec, o.bytes): o for s, (_, opts) in queue.items() for o in opts}
    return [
        {
            "regime": regime,
            "pass_index": p.index,
            "order": order,
            "scene_id": e.scene_id,
            "task": e.task,
            "alert": int(e.alert),
            "codec": e.candidate.codec,
            "bpp": e.candidate.bpp,
            "bytes": e.candidate.bytes,
            "f1_expected": e.candidate.f1_expected,
            "f1_positive": measured[(e.scene_id, e.candidate.codec, e.candidate.bytes)].f1_positive,
        }
        for p in passes
        for order, e in enumerate(p.plan.entries)
    ]


def _complete(results: ResultsTable, plans: ResultsTable, settings: RunSettings) -> bool:
    """Every regime's rows are in ``budget.csv`` and every pass's last send in the plan."""
    names = [ALLOCATOR] + [f"fixed-{c}-r{r}" for c, r in settings.budget_fixed]
    for name in names:
        for index in [str(k) for k in range(len(settings.budget_pass_s))] + [TOTAL]:
            rows = results.select(regime=name, pass_index=index, task=ALL_TASKS)
            if not rows:
                return False
            sent = int(rows[0]["scenes_delivered"])
            if (
                index != TOTAL
                and sent
                and not plans.has(regime=name, pass_index=index, order=sent - 1)
            ):
                return False
    return True


def run_budget(out: Path, tasks: tuple[str, ...], settings: RunSettings) -> ResultsTable:
    """Simulate the passes under every regime and write both tables; resumes from the CSVs."""
    results, plans = tables(out)
    if _complete(results, plans, settings):
        return results
    queue, arrivals, curves = _queue(Workspace(out), tasks, settings)
    budgets = pass_budgets(settings)
    for name, (offers, planner) in tqdm(regimes(queue, curves, settings).items(), desc="budget"):
        passes = simulate(arrivals, budgets, offers, planner)
        for table, rows, key in (
            (results, regime_rows(name, passes, queue, tasks), KEY),
            (plans, plan_rows(name, passes, queue), PLAN_KEY),
        ):
            for row in rows:
                if not table.has(**{k: row[k] for k in key}):
                    table.append(row)
    return results
