"""A ground segment of separate processes on one real PostgreSQL, on this machine.

Receivers, processing workers and the query API run as ``eodl ground serve --role ...``
processes, each on its own loopback port, sharing the database and one container store (a
folder). :class:`ClusterLink` uploads transfers as the satellite does, signed, spread over the
receivers, and moves to another receiver when one does not answer. The scale-out test (a
worker killed mid-job, a receiver restarted) and ``eodl bench ground --cluster`` use it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx

from shared.errors import ConfigurationError
from shared.protocol.chunks import HEADER_CHUNK_CRC32C, chunk_bounds, chunk_count, crc32c_hex
from shared.protocol.signing import sign_request
from workbench.demo.processes import free_port

START_S = 120.0  # a worker loads torch and the segmenters before it is ready
CHUNK_BYTES = 256 * 1024


@dataclass
class RoleProcess:
    """One ``eodl ground serve --role`` process."""

    role: str
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


@dataclass
class GroundCluster:
    """Roles of one ground segment as processes; ``close`` stops them all."""

    folder: Path
    database_url: str
    link_key: str
    settings: dict[str, str] = field(default_factory=dict)  # GS_* variables for every role
    roles: list[RoleProcess] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("GS_")}
        env.update(
            GS_DATABASE_URL=self.database_url,
            GS_LINK_KEY=self.link_key,
            GS_DATA_DIR=str(self.folder / "store"),
            GS_DEVICE=self.settings.get("GS_DEVICE", "cpu"),
        )
        env.update(self.settings)
        return env

    def start(self, role: str, wait: bool = True) -> RoleProcess:
        """Start one process of ``role``; with ``wait``, until it answers ``/readyz``."""
        index = sum(1 for r in self.roles if r.role == role)
        member = RoleProcess(role, free_port(), self.folder / f"{role}-{index}.log")
        self.roles.append(member)
        self._spawn(member)
        if wait:
            self.wait_ready(member)
        return member

    def _spawn(self, member: RoleProcess) -> None:
        command = [
            sys.executable, "-m", "workbench.cli.main", "ground", "serve",
            "--role", member.role, "--port", str(member.port), "--log-level", "warning",
        ]  # fmt: skip
        with member.log.open("ab") as log:
            member.process = subprocess.Popen(
                command, env=self.environment(), stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self, member: RoleProcess, timeout_s: float = START_S) -> None:
        """Until ``member`` answers ``/readyz`` with 200.

        Raises:
            ConfigurationError: it exited, or did not get ready in time (its log's tail says why).
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert member.process is not None
            if member.process.poll() is not None:
                raise ConfigurationError(
                    f"the {member.role} process exited ({member.process.returncode}): "
                    + self.tail(member)
                )
            try:
                if httpx.get(member.url + "/readyz", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise ConfigurationError(f"the {member.role} process was not ready: " + self.tail(member))

    def tail(self, member: RoleProcess, lines: int = 15) -> str:
        """The last lines of the member's log."""
        try:
            return "\n".join(member.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self, member: RoleProcess) -> None:
        """SIGKILL, as a lost machine: no shutdown of any kind."""
        assert member.process is not None
        member.process.send_signal(signal.SIGKILL)
        member.process.wait(30)

    def restart(self, member: RoleProcess) -> None:
        """Stop (SIGTERM, graceful) and start again on the same port."""
        self._terminate(member)
        self._spawn(member)
        self.wait_ready(member)

    def _terminate(self, member: RoleProcess) -> None:
        if member.process is None or member.process.poll() is not None:
            return
        member.process.terminate()
        try:
            member.process.wait(30)
        except subprocess.TimeoutExpired:
            member.process.kill()
            member.process.wait(30)

    def members(self, role: str) -> list[RoleProcess]:
        return [member for member in self.roles if member.role == role]

    def close(self) -> None:
        for member in self.roles:
            self._terminate(member)


class ClusterLink:
    """Signed uploads spread over the receivers, as a satellite's sender would send them
    (create, chunks, commit), moving to the next receiver when one does not answer."""

    def __init__(self, receivers: list[RoleProcess], key: str, key_id: str = "sat-1") -> None:
        self.receivers = receivers
        self.key, self.key_id = key.encode(), key_id
        self.client = httpx.Client(timeout=30.0)
        self._turn = cycle(range(len(receivers)))
        self.retries = 0

    def close(self) -> None:
        self.client.close()

    def _request(self, method: str, path: str, body: bytes = b"", **headers: str) -> Any:
        for _attempt in range(60):
            member = self.receivers[next(self._turn)]
            signed = sign_request(self.key, self.key_id, method, path, body)
            try:
                answer = self.client.request(
                    method, member.url + path, content=body, headers={**signed, **headers}
                )
            except httpx.TransportError:
                self.retries += 1
                time.sleep(0.1)
                continue
            if answer.status_code >= 500:
                self.retries += 1
                time.sleep(0.1)
                continue
            return answer
        raise ConfigurationError(f"{method} {path}: no receiver answered in 60 tries")

    def upload(
        self, transfer_id: str, data: bytes, task: str, codec: str, priority: int = 0
    ) -> dict[str, Any]:
        """Create, send every chunk, commit; the receipt."""
        sha256 = hashlib.sha256(data).hexdigest()
        body = {
            "transfer_id": transfer_id, "scene_id": f"scene-{transfer_id}",
            "total_bytes": len(data), "sha256": sha256, "chunk_bytes": CHUNK_BYTES,
            "priority": priority, "task": task, "codec": codec, "header": {},
        }  # fmt: skip
        json_type = {"Content-Type": "application/json"}
        answer = self._request("POST", "/v1/transfers", json.dumps(body).encode(), **json_type)
        _check(answer, "create")
        for index in range(chunk_count(len(data), CHUNK_BYTES)):
            start, stop = chunk_bounds(index, len(data), CHUNK_BYTES)
            chunk = data[start:stop]
            path = f"/v1/transfers/{transfer_id}/chunks/{index}"
            _check(self._request("PUT", path, chunk, **{HEADER_CHUNK_CRC32C: crc32c_hex(chunk)}),
                   "chunk")  # fmt: skip
        commit = json.dumps({"sha256": sha256}).encode()
        answer = self._request("POST", f"/v1/transfers/{transfer_id}/commit", commit, **json_type)
        _check(answer, "commit")
        return dict(answer.json())


def _check(answer: Any, what: str) -> None:
    if answer.status_code not in (200, 201):
        raise ConfigurationError(f"{what} answered {answer.status_code}: {answer.text[:300]}")
