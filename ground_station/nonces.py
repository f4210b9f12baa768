"""Replay memory in the ground's database: shared by every receiver of one ground (processes,
replicas on one PostgreSQL) and surviving restarts, so a captured request cannot be replayed
after a restart or to another receiver within its timestamp's validity.

One row per accepted nonce (``key_id:nonce``, its primary key) with the time after which a
request stamped like it is stale anyway; inserting an existing nonce fails on the key, which is
the replay check, atomic in any SQL database. Expired rows are deleted as new ones arrive.
"""

from __future__ import annotations

import time

from sqlalchemy import Float, String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from ground_station.db import Base

PURGE_EVERY = 256  # accepted nonces between deletions of the expired ones


class SeenNonce(Base):
    """A nonce the ground accepted, kept until requests stamped like it are stale."""

    __tablename__ = "seen_nonces"

    nonce: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class DbNonceStore:
    """:class:`shared.protocol.signing.NonceStore` over the ground's database.

    Args:
        sessions: the ground's session factory (its engine has created the table).
        ttl_s: how long a nonce is kept after its request's timestamp (twice the allowed skew).
    """

    def __init__(self, sessions: sessionmaker, ttl_s: float) -> None:
        self.sessions = sessions
        self.ttl_s = ttl_s
        self._accepted = 0

    def check_and_add(self, nonce: str, timestamp: float, *, now: float | None = None) -> bool:
        """Record ``nonce``; True when fresh, False when any receiver has seen it before."""
        now = time.time() if now is None else now
        self._accepted += 1
        with self.sessions() as session:
            if self._accepted % PURGE_EVERY == 1:
                session.execute(delete(SeenNonce).where(SeenNonce.expires_at <= now))
            session.add(SeenNonce(nonce=nonce, expires_at=timestamp + self.ttl_s))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
        return True
