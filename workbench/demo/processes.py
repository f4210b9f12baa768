"""Start the two services as real processes on loopback and stop them cleanly."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.errors import ConfigurationError, EODownlinkError


class ServiceStartError(EODownlinkError, RuntimeError):
    """A demo service did not become ready; its log says why."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """A service process and where to reach it."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: object = field(repr=False, default=None)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]


def start_service(
    name: str, args: list[str], port: int, env: dict[str, str], log_dir: Path
) -> Service:
    """Run ``eodl <args>`` in a child process, logging to ``log_dir/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log = log_path.open("ab")
    cmd = [sys.executable, "-m", "workbench.cli.main", *args]
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env})
    return Service(name, f"http://127.0.0.1:{port}", process, log_path, log)


def wait_ready(service: Service, timeout_s: float = 120.0) -> None:
    """Poll ``/readyz`` until it answers 200; fail with the log's tail if the process dies."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise ServiceStartError(
                f"{service.name} exited with code {service.process.returncode}; "
                f"last lines of {service.log_path}:\n{_tail(service.log_path)}"
            )
        try:
            if httpx.get(f"{service.url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise ServiceStartError(
        f"{service.name} was not ready after {timeout_s:.0f} s; see {service.log_path}:\n"
        f"{_tail(service.log_path)}"
    )


DEMO_MARKER = ".eodl-demo"


def prepare_data_dir(data_dir: Path) -> None:
    """Start each demo afresh: clear what an earlier demo left in ``data_dir``.

    Only a folder the demo made itself (it holds ``.eodl-demo``) is cleared; any other
    non-empty folder is refused rather than touched.

    Raises:
        ConfigurationError: ``data_dir`` holds files that are not a demo's.
    """
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / DEMO_MARKER).is_file():
            raise ConfigurationError(
                f"{data_dir} is not empty and was not made by `eodl demo`; "
                "pass --data-dir with a new or empty folder"
            )
        for name in ("ground", "satellite", "logs"):
            shutil.rmtree(data_dir / name, ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / DEMO_MARKER).write_text("made by eodl demo; cleared at its next run\n")


def new_link_key() -> str:
    """A fresh signing key shared by the demo's satellite and ground."""
    return secrets.token_hex(32)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
