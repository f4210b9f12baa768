"""The transfer records (SQLAlchemy 2.0): one row per transfer, protocol state and metrics.

SQLite by default, in WAL mode with ``synchronous=FULL`` so that a committed receipt survives a
power cut; any SQLAlchemy URL (PostgreSQL) works for scale-out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker


def utcnow() -> datetime:
    """Timezone-aware now (UTC)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the ground station's tables."""


class TransferRecord(Base):
    """One transfer: what was announced, where it stands, and what processing measured."""

    __tablename__ = "transfers"

    transfer_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    scene_id: Mapped[str] = mapped_column(String(128), index=True)
    task: Mapped[str] = mapped_column(String(64), index=True)
    codec: Mapped[str] = mapped_column(String(64), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    total_bytes: Mapped[int] = mapped_column(BigInteger)
    chunk_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    announced_header: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), index=True, default="receiving")
    reason: Mapped[str | None] = mapped_column(Text, default=None)

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    first_chunk_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    committed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    receipt_id: Mapped[str | None] = mapped_column(String(64))
    link_seconds: Mapped[float | None] = mapped_column(Float)

    bands: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    dtype: Mapped[str | None] = mapped_column(String(16))
    bit_depth: Mapped[int | None] = mapped_column(Integer)
    model_id: Mapped[int | None] = mapped_column(Integer)
    quality: Mapped[int | None] = mapped_column(Integer)
    lossless: Mapped[bool | None] = mapped_column(Boolean)
    rate_target: Mapped[str | None] = mapped_column(String(64))
    container_bytes: Mapped[int | None] = mapped_column(BigInteger)
    payload_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sidecar_bytes: Mapped[int | None] = mapped_column(BigInteger)
    bpp: Mapped[float | None] = mapped_column(Float)
    payload_bpp: Mapped[float | None] = mapped_column(Float)
    bits_per_sample: Mapped[float | None] = mapped_column(Float)
    psnr_db: Mapped[float | None] = mapped_column(Float)
    roi_fraction: Mapped[float | None] = mapped_column(Float)
    digest_verified: Mapped[bool | None] = mapped_column(Boolean)
    f1_positive: Mapped[float | None] = mapped_column(Float)
    f1_macro: Mapped[float | None] = mapped_column(Float)
    decode_ms: Mapped[float | None] = mapped_column(Float)
    segment_ms: Mapped[float | None] = mapped_column(Float)
    device: Mapped[str | None] = mapped_column(String(32))
    segmentation_note: Mapped[str | None] = mapped_column(Text)
    has_quicklook: Mapped[bool] = mapped_column(Boolean, default=False)
    has_mask: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_by: Mapped[str | None] = mapped_column(String(128))  # host:pid of the last claim
    georef_note: Mapped[str | None] = mapped_column(Text)  # georeferenced, or why not
    footprint: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # WGS84 polygon, or None
    detections: Mapped[int | None] = mapped_column(Integer)  # hotspots or cloud regions
    geo_files: Mapped[list[str] | None] = mapped_column(JSON)  # COGs, GeoJSON, quicklook


class PlanRecord(Base):
    """One pass plan a satellite reported (``POST /v1/plans``), kept as it was sent."""

    __tablename__ = "plans"

    plan_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    satellite: Mapped[str] = mapped_column(String(64), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    budget_bytes: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


#: PostgreSQL advisory lock held while a process creates or upgrades the schema: receivers,
#: workers and the API start together (compose) and CREATE TABLE races otherwise.
SCHEMA_LOCK = 0x454F444B


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the schema created; SQLite gets WAL and full sync."""
    is_sqlite = url.startswith("sqlite")
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False} if is_sqlite else {},
        pool_pre_ping=not is_sqlite,
    )
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        Base.metadata.create_all(connection)
        _add_missing_columns(connection)
    return engine


def _add_missing_columns(connection: Connection) -> None:
    """Add columns a newer release defined to a database an older one created.

    Columns are only ever added, all nullable, so an older database upgrades in place.
    """
    table = TransferRecord.__tablename__
    present = {c["name"] for c in inspect(connection).get_columns(table)}
    for column in TransferRecord.__table__.columns:
        if column.name not in present:
            kind = column.type.compile(dialect=connection.dialect)
            ddl = f'ALTER TABLE {table} ADD COLUMN "{column.name}" {kind}'
            connection.execute(text(ddl))


def make_session_factory(engine: Engine) -> sessionmaker:
    """Sessions that keep loaded attributes after commit (records are read after saving)."""
    return sessionmaker(engine, expire_on_commit=False)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC (SQLite returns naive datetimes; they are UTC by construction)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()
