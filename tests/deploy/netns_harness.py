"""Helpers of the network-namespace tests: run ``deploy/netns-link``, talk to the services
inside its namespaces, sample the veth's byte counters, and always tear everything down."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "deploy" / "netns-link"
NS_CLIENT = Path(__file__).resolve().parent / "ns_client.py"
LINK_KEY = "netns-test-link-key-0123456789"
# `eodl satellite serve` and `eodl ground serve`, registered alone (fast start, and independent
# of the other command modules)
EODL_DRIVER = (
    "import typer; from workbench.cli import ground_cmds, satellite_cmds; "
    "app = typer.Typer(); satellite_cmds.register(app); ground_cmds.register(app); app()"
)


def namespace_skip_reason() -> str | None:
    """Why namespace tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (run the integration tests as root)"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"{tool} (iproute2) is not installed"
    probe = f"eodl-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in listed.splitlines() if line.strip()}


def eodl_command(folder: Path) -> Path:
    """The ``eodl`` console script beside this interpreter, or (where there is none, e.g. a
    bare interpreter) an executable in ``folder`` that runs the two serve commands."""
    console_script = Path(sys.executable).with_name("eodl")
    if console_script.is_file():
        return console_script
    path = folder / "eodl"
    path.write_text(f"#!/bin/sh\nexec {sys.executable} -c '{EODL_DRIVER}' \"$@\"\n")
    path.chmod(0o755)
    return path


@dataclass
class LinkRun:
    """One running ``deploy/netns-link``: its events (unix time, name, fields) and handles."""

    process: subprocess.Popen[str]
    events: list[tuple[float, str, dict[str, str]]] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip())
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "[netns-link]":
                fields = dict(p.split("=", 1) for p in parts[3:] if "=" in p)
                self.events.append((float(parts[1]), parts[2], fields))

    def wait_for(self, event: str, timeout_s: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout_s
        while True:
            for _, name, fields in self.events:
                if name == event:
                    return fields
            if self.process.poll() is not None or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        raise AssertionError(f"netns-link gave no {event!r}; output:\n" + self.log_tail())

    def log_tail(self) -> str:
        return "\n".join(self.output[-40:])

    @property
    def ready(self) -> dict[str, str]:
        return self.wait_for("ready", 0)

    def times(self, event: str) -> list[float]:
        return [t for t, name, _ in self.events if name == event]

    def ns_client(self, ns: str, *args: str, timeout_s: float = 60.0) -> str:
        """Run ``ns_client.py ARGS`` inside namespace ``ns``; its stdout."""
        done = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, str(NS_CLIENT), *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if done.returncode != 0:
            raise AssertionError(f"ns_client {args[:2]} in {ns} failed: {done.stderr[-2000:]}")
        return done.stdout

    def ns_client_background(self, ns: str, *args: str) -> subprocess.Popen[str]:
        """Start ``ns_client.py ARGS`` inside namespace ``ns``; read its stdout when it ends."""
        return subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, str(NS_CLIENT), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stop(self, signum: int = signal.SIGTERM, timeout_s: float = 60.0) -> int:
        """Signal the script, wait for its teardown; KILL (and clean up after it) if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.reader is not None:
            self.reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        ready = next((f for _, n, f in self.events if n == "ready"), {})
        for key in ("sat_pid", "gs_pid"):
            if ready.get(key):
                _kill_quietly(int(ready[key]))
        for ns in (ready.get("sat_ns"), ready.get("gs_ns")):
            if ns and ns in namespaces():
                subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        return int(self.process.returncode)


def _kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def start_link(args: list[str], env: dict[str, str], ready_timeout_s: float = 150.0) -> LinkRun:
    """Start the script and wait for its ``ready`` line (stopping it if that never comes)."""
    # `env --default-signal=INT`: a test run started in the background (`pytest ... &` in a
    # script without job control) inherits SIGINT ignored, and a shell cannot trap a signal
    # ignored on entry, so the Ctrl-C the tests send would do nothing; a user's terminal
    # delivers it with the default disposition.
    process = subprocess.Popen(
        ["env", "--default-signal=INT", "bash", str(SCRIPT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        start_new_session=True,
    )
    run = LinkRun(process)
    run.reader = threading.Thread(target=run._read, daemon=True)
    run.reader.start()
    try:
        run.wait_for("ready", ready_timeout_s)
    except BaseException:
        run.stop()
        raise
    return run


class ByteSampler:
    """Samples a device's tx byte counter in a process's namespace (``/proc/PID/net/dev``)."""

    def __init__(self, pid: int, device: str, every_s: float = 0.05) -> None:
        self.path = Path(f"/proc/{pid}/net/dev")
        self.device, self.every_s = device, every_s
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def read(self) -> int | None:
        try:
            text = self.path.read_text()
        except OSError:
            return None
        for line in text.splitlines():
            name, _, counters = line.partition(":")
            if name.strip() == self.device:
                return int(counters.split()[8])
        return None

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self.read()
            if value is not None:
                self.samples.append((time.time(), value))
            self._stop.wait(self.every_s)

    def __enter__(self) -> ByteSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5)


def prometheus_value(text: str, name: str, labels: str = "") -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    wanted = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    return 0.0


def tcp_counters(pid: int) -> dict[str, int]:
    """The TCP counters (``Tcp:`` line of ``/proc/PID/net/snmp``) of a process's namespace."""
    lines = [line.split() for line in Path(f"/proc/{pid}/net/snmp").read_text().splitlines()]
    names, values = (line for line in lines if line[0] == "Tcp:")
    return {n: int(v) for n, v in zip(names[1:], values[1:], strict=True)}


def qdisc_drops(ns: str, device: str) -> int:
    """Packets the device's root qdisc (tbf) dropped since the link was made."""
    shown = subprocess.run(
        ["tc", "-s", "-n", ns, "qdisc", "show", "dev", device], capture_output=True, text=True
    ).stdout
    found = re.search(r"dropped (\d+)", shown)
    return int(found.group(1)) if found else 0
