"""The satellite's running parts: store, link, worker and sender threads, and their start/stop."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import httpx
from prometheus_client import CollectorRegistry

from satellite_node.codec_choice import open_checkpoints
from satellite_node.downlink import DownlinkSender, GroundClient, SenderStats
from satellite_node.link.emulator import LinkEmulator
from satellite_node.metrics import build_registry
from satellite_node.planner.applier import PlanApplier
from satellite_node.planner.candidates import CandidateLadder
from satellite_node.planner.curves import CurveBook
from satellite_node.planner.report import PlanReporter
from satellite_node.settings import SatelliteSettings
from satellite_node.store import SceneStore
from satellite_node.worker import CompressionWorker, QueuePolicy

LOG = logging.getLogger(__name__)


@dataclass
class SatelliteContext:
    """Everything one satellite app runs; built and started by the app's lifespan."""

    settings: SatelliteSettings
    store: SceneStore
    link: LinkEmulator
    stats: SenderStats
    worker: CompressionWorker
    sender: DownlinkSender
    client: GroundClient
    registry: CollectorRegistry
    planner: PlanApplier | None = None
    reporter: PlanReporter | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        settings: SatelliteSettings,
        *,
        key: bytes,
        ground_transport: httpx.BaseTransport | None = None,
    ) -> SatelliteContext:
        """Open the store (recovering what a crash left), then build the link, sender and worker."""
        store = SceneStore(settings.data_dir, capacity_bytes=settings.capacity_bytes)
        report = store.recover()
        LOG.info("onboard store recovered: %s", report)
        link = LinkEmulator(settings.link_profile())
        stats = SenderStats()
        timeout = settings.http_timeout()
        client = GroundClient(
            settings.ground_url,
            key=key,
            key_id=settings.link_key_id,
            timeout=timeout,
            transport=ground_transport,
        )
        sender = DownlinkSender(
            store,
            link,
            client,
            chunk_bytes_for=settings.chunk_bytes_for,
            backoff_cap_s=settings.backoff_cap_s,
            stats=stats,
        )
        checkpoints = open_checkpoints(settings.checkpoints_dir)
        planner, reporter = None, None
        if settings.plan == "apply" and settings.run_sender:
            reporter = PlanReporter(
                settings.ground_url,
                key=key,
                key_id=settings.link_key_id,
                timeout=timeout,
                link=link,
                transport=ground_transport,
            )
            curves = CurveBook.shipped()
            LOG.info("planner F1 curves: %s", curves.sources())
            ladder = CandidateLadder(store, curves, settings.roi, checkpoints)
            planner = PlanApplier(
                store,
                link,
                ladder,
                chunk_bytes_for=settings.chunk_bytes_for,
                report=reporter,
                on_release=sender.wake.set,
            )
        else:  # nothing holds scenes back: what an acting plan held flies now
            released = store.plan.release_all_held()
            if released:
                LOG.info("SAT_PLAN=%s: released %d held scenes", settings.plan, released)
        worker = CompressionWorker(
            store,
            checkpoints=checkpoints,
            on_queued=planner.wake.set if planner else sender.wake.set,
            roi_mode=settings.roi,
            policy=QueuePolicy(
                hold=planner is not None,
                raw_keep_bytes=settings.raw_keep_bytes if planner else 0,
            ),
        )
        registry = build_registry(store, link, stats, settings.alarm_passes)
        return cls(
            settings, store, link, stats, worker, sender, client, registry, planner, reporter
        )

    def start(self) -> None:
        """Start the compression worker, the downlink sender and the planner threads."""
        if self.settings.run_worker:
            self._spawn("compression-worker", self.worker.run)
        if self.settings.run_sender:
            self._spawn("downlink-sender", self.sender.run)
        if self.planner is not None:
            self._spawn("plan-applier", self.planner.run)
            self._spawn("plan-reporter", self.planner.run_reports)

    def _spawn(self, name: str, target: object) -> None:
        thread = threading.Thread(target=target, args=(self.stop_event,), name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def alive(self) -> bool:
        """True while every background thread runs."""
        return all(t.is_alive() for t in self.threads)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop every thread (waiting up to ``timeout_s`` each); close the clients and store."""
        self.stop_event.set()
        self.worker.wake.set()
        self.sender.wake.set()
        if self.planner is not None:
            self.planner.wake.set()
            self.planner.report_wake.set()
        for thread in self.threads:
            thread.join(timeout_s)
        self.client.close()
        if self.reporter is not None:
            self.reporter.close()
        self.store.close()
