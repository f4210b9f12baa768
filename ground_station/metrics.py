"""Prometheus metrics of one ground station app (one registry per instance: tests build many)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shared.protocol.messages import TRANSFER_STATES

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)


class GroundMetrics:
    """The counters, gauges and histograms the ground exports on ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.transfers = Gauge(
            "eodl_ground_transfers", "Transfers by state", ["state"], registry=self.registry
        )
        for state in TRANSFER_STATES:
            self.transfers.labels(state=state).set(0)
        self.chunks = Counter(
            "eodl_ground_chunks",
            "Chunk uploads by outcome (stored, duplicate, crc_fault)",
            ["outcome"],
            registry=self.registry,
        )
        self.bytes_received = Counter(
            "eodl_ground_chunk_bytes", "Chunk bytes stored", registry=self.registry
        )
        self.auth_failures = Counter(
            "eodl_ground_auth_failures", "Requests refused with 401", registry=self.registry
        )
        self.worker_failures = Counter(
            "eodl_ground_worker_failures",
            "Decode worker crashes and timeouts",
            ["kind"],
            registry=self.registry,
        )
        self.digest_mismatches = Counter(
            "eodl_ground_digest_mismatches",
            "Decodes whose reconstruction digest differs from the onboard one",
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "eodl_ground_processing_queue_depth", "Transfers waiting", registry=self.registry
        )
        self.jobs = Gauge(
            "eodl_ground_jobs",
            "Processing jobs of the job engine by status (receivers and workers on PostgreSQL)",
            ["status"],
            registry=self.registry,
        )
        self.decode_seconds = Histogram(
            "eodl_ground_decode_seconds",
            "Decode latency",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.segment_seconds = Histogram(
            "eodl_ground_segment_seconds",
            "Segmentation latency",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def set_state_counts(self, counts: dict[str, int]) -> None:
        """Refresh the per-state gauge from the database's counts."""
        for state in TRANSFER_STATES:
            self.transfers.labels(state=state).set(counts.get(state, 0))
