"""Processing handed out by a job engine, when receivers and processing workers run apart.

The engine is procrastinate (https://procrastinate.readthedocs.io), a maintained task library
whose queue is tables and functions in the PostgreSQL the ground already uses, so a job and a
transfer record live in one database and nothing else has to run. Ray was weighed and not
chosen: a cluster of its own to run and secure, a 60+ MB wheel, and its retries re-run a task
whose side effects (a record written) must happen once; here the database decides that.

How exactly-once processing holds:

- a receiver defers one job per transfer when the receipt is durable, under procrastinate's
  queueing lock (the transfer id): a second defer of a waiting job is refused;
- a receipt whose defer was lost (the receiver died between the two) is found by the sweep
  and deferred then (a committed transfer with no job, :data:`ORPHAN_AFTER_S` old);
- each worker sends a heartbeat; the sweep hands the job of a worker whose heartbeat stopped
  (killed, machine lost) back to the queue, and another worker takes it;
- the worker claims the transfer in the database and records its result only while its claim
  is current (:class:`ground_station.processing.pipeline.Processor`), so a retried job is
  recorded once, by the retry.

One sweep runs at a time across all workers (a PostgreSQL advisory lock).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from shared.errors import ConfigurationError

if TYPE_CHECKING:
    import procrastinate

    from ground_station.processing.pipeline import Processor

log = logging.getLogger(__name__)

QUEUE = "transfers"
TASK_NAME = "eodl.process_transfer"
SCHEMA_LOCK = 0x454F444C  # "EODL": one process at a time applies the engine's schema
SWEEP_LOCK = SCHEMA_LOCK + 1  # one sweep at a time across the workers
ORPHAN_AFTER_S = 10.0
_ORPHANS = text(
    """
    SELECT t.transfer_id, t.priority FROM transfers t
     WHERE t.state = 'committed'
       AND t.committed_at < now() - make_interval(secs => :age)
       AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j WHERE j.queueing_lock = t.transfer_id)
     ORDER BY t.priority DESC, t.committed_at
     LIMIT 1000
    """
)


def conninfo(database_url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL.

    Raises:
        ConfigurationError: the URL is not PostgreSQL (the job engine needs it).
    """
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ConfigurationError(
            f"the receiver and worker roles share work through PostgreSQL, and GS_DATABASE_URL "
            f"is {url.get_backend_name()}: set GS_DATABASE_URL=postgresql+psycopg://USER@HOST/DB, "
            "or run the single process (--role all), which works on SQLite"
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_schema(engine: Engine, schema_sql: str) -> bool:
    """Apply the job engine's schema once; True when this call applied it."""
    with engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        if connection.scalar(text("SELECT to_regclass('procrastinate_jobs')")) is not None:
            return False
        cursor = connection.connection.cursor()  # several statements: no parameters
        cursor.execute(schema_sql)
        cursor.close()
    log.info("applied the job engine's schema")
    return True


def _configure(app: procrastinate.App, transfer_id: str, priority: int) -> Any:
    return app.configure_task(TASK_NAME, queue=QUEUE, priority=priority, queueing_lock=transfer_id)


class JobQueue:
    """A receiver's side: one processing job per committed transfer."""

    def __init__(self, database_url: str, engine: Engine) -> None:
        import procrastinate

        self.engine = engine
        connector = procrastinate.SyncPsycopgConnector(
            conninfo=conninfo(database_url), min_size=1, max_size=4
        )
        self.app = procrastinate.App(connector=connector)

    def start(self) -> None:
        """Apply the schema if no one has, and open the connections."""
        ensure_schema(self.engine, self.app.schema_manager.get_schema())
        self.app.open()

    def stop(self) -> None:
        """Close the connections."""
        self.app.close()

    def alive(self) -> bool:
        """A receiver processes nothing itself: always true."""
        return True

    def defer(self, transfer_id: str, priority: int = 0) -> None:
        """Queue the transfer's processing; a failure is logged, and the sweep defers it later
        (the receipt is already durable)."""
        from procrastinate.exceptions import AlreadyEnqueued

        try:
            _configure(self.app, transfer_id, priority).defer(transfer_id=transfer_id)
        except AlreadyEnqueued:
            log.debug("transfer %s is already queued", transfer_id)
        except Exception:  # the job engine's database is unreachable: the sweep catches up
            log.exception("could not queue transfer %s; the workers' sweep will", transfer_id)


class JobWorker:
    """A processing worker: procrastinate's worker running :meth:`Processor.process_safely`,
    and the sweep (stalled jobs back to the queue, lost defers made)."""

    def __init__(
        self,
        database_url: str,
        engine: Engine,
        processor: Processor,
        heartbeat_s: float,
        stalled_s: float,
        concurrency: int = 1,
    ) -> None:
        import procrastinate

        self.engine = engine
        self.processor = processor
        self.heartbeat_s, self.stalled_s = heartbeat_s, stalled_s
        self.concurrency = concurrency
        connector = procrastinate.PsycopgConnector(
            conninfo=conninfo(database_url), min_size=1, max_size=2 + concurrency
        )
        self.app = procrastinate.App(connector=connector)
        self.app.task(name=TASK_NAME, queue=QUEUE)(self._process)
        self._tasks: list[asyncio.Task[None]] = []
        self.retried = 0  # stalled jobs this worker's sweeps handed back
        self.orphans = 0  # lost defers this worker's sweeps made

    def _process(self, transfer_id: str) -> None:
        self.processor.process_safely(transfer_id)

    async def start(self) -> None:
        """Apply the schema if no one has, open the connections, start working and sweeping."""
        schema = self.app.schema_manager.get_schema()
        await asyncio.to_thread(ensure_schema, self.engine, schema)
        await asyncio.to_thread(self.processor.pool.warm)  # ready means ready to decode
        await self.app.open_async()
        worker = self.app.run_worker_async(
            queues=[QUEUE],
            name=self.processor.name,
            concurrency=self.concurrency,
            install_signal_handlers=False,
            update_heartbeat_interval=self.heartbeat_s,
            stalled_worker_timeout=self.stalled_s,
            fetch_job_polling_interval=1.0,
            delete_jobs="never",
        )
        self._tasks = [
            asyncio.create_task(worker, name="job-worker"),
            asyncio.create_task(self._sweep_forever(), name="job-sweep"),
        ]

    async def stop(self) -> None:
        """Stop taking jobs (the current one finishes), stop sweeping, close."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.app.close_async()
        await asyncio.to_thread(self.processor.pool.close)

    def alive(self) -> bool:
        """True while the job worker and the sweep run."""
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(max(self.heartbeat_s, 1.0))
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: the next sweep tries again
                log.exception("job sweep failed")

    async def sweep(self) -> tuple[int, int]:
        """One sweep, when no other worker is sweeping: (stalled jobs retried, defers made)."""
        connection = await asyncio.to_thread(self.engine.connect)
        try:
            got = await asyncio.to_thread(_try_lock, connection)
            if not got:
                return 0, 0
            try:
                return await self._sweep_locked(connection)
            finally:
                await asyncio.to_thread(_unlock, connection)
        finally:
            await asyncio.to_thread(connection.close)

    async def _sweep_locked(self, connection: Any) -> tuple[int, int]:
        manager = self.app.job_manager
        stalled = await manager.get_stalled_jobs(
            queue=QUEUE, seconds_since_heartbeat=self.stalled_s
        )
        for job in stalled:
            log.warning("job %s (%s) lost its worker; queued again", job.id, job.task_kwargs)
            await manager.retry_job(job)
        orphans = await asyncio.to_thread(_orphans, connection)
        for transfer_id, priority in orphans:
            log.warning("transfer %s was committed but never queued; queuing it", transfer_id)
            await self._defer(transfer_id, priority)
        self.retried += len(stalled)
        self.orphans += len(orphans)
        return len(stalled), len(orphans)

    async def _defer(self, transfer_id: str, priority: int) -> None:
        from procrastinate.exceptions import AlreadyEnqueued

        try:
            await _configure(self.app, transfer_id, priority).defer_async(transfer_id=transfer_id)
        except AlreadyEnqueued:
            pass


def _try_lock(connection: Any) -> bool:
    got = connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": SWEEP_LOCK})
    connection.commit()
    return bool(got)


def _unlock(connection: Any) -> None:
    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SWEEP_LOCK})
    connection.commit()


def _orphans(connection: Any) -> list[tuple[str, int]]:
    rows = connection.execute(_ORPHANS, {"age": ORPHAN_AFTER_S}).all()
    connection.commit()
    return [(row[0], int(row[1] or 0)) for row in rows]
