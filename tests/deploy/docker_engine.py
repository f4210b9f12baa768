"""A private Docker engine for the compose test: its own ``dockerd`` (data root, exec root and
socket of its own, stopped at the end), a local Debian bookworm base image where no registry
can be reached, and ``docker`` / ``docker-compose`` commands aimed at that engine."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DATA_ROOT = Path(os.environ.get("EODL_DOCKER_ROOT", "/var/lib/eodl-docker"))
EXEC_ROOT = Path("/run/eodl-docker")
SOCKET = Path("/run/eodl-docker.sock")
PIDFILE = Path("/run/eodl-docker.pid")
COMPOSE_PREFIXES = ("SAT_", "GS_", "LINK_", "EODL_", "COMPOSE_", "SATELLITE_PORT", "GROUND_PORT")
BRIDGE = "docker0"  # dockerd makes it and leaves it behind
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
BASE_IMAGE = "eodl-debian:bookworm"
# what the base needs beyond minbase: python3 (3.11 on bookworm) with venv, as python:3.11-slim has
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
DEBIAN_MIRROR = os.environ.get("EODL_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# The CLI of Debian's docker.io (20.10), beside its engine: it builds with BuildKit on its own,
# where a newer CLI found first on PATH wants the buildx plugin, which Debian does not ship.
DOCKER_CLI = os.environ.get(
    "EODL_DOCKER_CLI", "/usr/bin/docker" if Path("/usr/bin/docker").is_file() else "docker"
)


def engine_skip_reason() -> str | None:
    """Why a private engine cannot run here, or None when it can (it may still fail to start)."""
    if os.geteuid() != 0:
        return "the compose test starts its own dockerd, which needs root (run it as root)"
    for tool, package in (
        ("dockerd", "docker.io"),
        (DOCKER_CLI, "docker.io"),
        ("docker-compose", "docker-compose"),
    ):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install {package})"
    if PIDFILE.exists() and Path(f"/proc/{PIDFILE.read_text().strip()}").exists():
        return f"another dockerd (pid file {PIDFILE}) already serves {SOCKET}: stop it first"
    return None


def _iptables(*args: str) -> str:
    done = subprocess.run(["iptables", *args], capture_output=True, text=True, timeout=30)
    return done.stdout


@dataclass(frozen=True)
class HostNetwork:
    """The host's forwarding state before dockerd, which adds its DOCKER chains and rules,
    turns IPv4 forwarding on and sets the FORWARD policy to DROP, and leaves all of it."""

    docker_chains: bool
    forward_policy: str
    ip_forward: str

    @classmethod
    def now(cls) -> HostNetwork | None:
        if shutil.which("iptables") is None:
            return None
        policy = _iptables("-S", "FORWARD").split("\n", 1)[0].split()
        return cls(
            docker_chains="DOCKER" in _iptables("-S") + _iptables("-t", "nat", "-S"),
            forward_policy=policy[-1] if policy[:2] == ["-P", "FORWARD"] else "ACCEPT",
            ip_forward=IP_FORWARD.read_text().strip(),
        )

    def restore(self) -> None:
        """Remove dockerd's rules and chains (unless some were there before it), and put the
        FORWARD policy and IPv4 forwarding back."""
        if not self.docker_chains:
            for table in ("filter", "nat"):
                rules = _iptables("-t", table, "-S").splitlines()
                for rule in rules:
                    words = rule.split()
                    if (
                        words[:1] == ["-A"]
                        and not words[1].startswith("DOCKER")
                        and ("DOCKER" in rule or BRIDGE in rule)
                    ):
                        _iptables("-t", table, "-D", *words[1:])
                chains = [r.split()[1] for r in rules if r.startswith("-N DOCKER")]
                for chain in chains:
                    _iptables("-t", table, "-F", chain)
                for chain in chains:
                    _iptables("-t", table, "-X", chain)
        _iptables("-P", "FORWARD", self.forward_policy)
        IP_FORWARD.write_text(self.ip_forward + "\n")


@dataclass
class Engine:
    """A running private ``dockerd``; ``env`` aims docker and docker-compose at it."""

    process: subprocess.Popen[bytes]
    log_path: Path
    made_bridge: bool  # docker0 was not there before: remove it at the end
    host_before: HostNetwork | None = None  # what to put back: dockerd's iptables, forwarding

    @property
    def env(self) -> dict[str, str]:
        """The caller's environment without compose settings (they would override the test's
        env file in compose's interpolation), aimed at this engine, with BuildKit."""
        own = {k: v for k, v in os.environ.items() if not k.startswith(COMPOSE_PREFIXES)}
        return {**own, "DOCKER_HOST": f"unix://{SOCKET}", "DOCKER_BUILDKIT": "1"}

    def run(
        self, *args: str, timeout_s: float = 120.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``docker ARGS`` (or ``docker-compose ...`` when args[0] is "docker-compose")."""
        command = list(args) if args[0] == "docker-compose" else [DOCKER_CLI, *args]
        done = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=timeout_s
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
        return done

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout_s: float = 60.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout_s``; dockerd stops its containers first."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.made_bridge:
            subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, timeout=30)
        if self.host_before is not None:
            self.host_before.restore()


def start_engine(log_dir: Path, timeout_s: float = 60.0) -> Engine:
    """Start ``dockerd`` on its own data root and socket (overlay2); wait until it answers.

    Raises:
        RuntimeError: it exited or did not answer within ``timeout_s`` (its log tail says why).
    """
    log_path = log_dir / "dockerd.log"
    made_bridge = not Path(f"/sys/class/net/{BRIDGE}").exists()
    host_before = HostNetwork.now()
    command = [
        "dockerd", "--data-root", str(DATA_ROOT), "--exec-root", str(EXEC_ROOT),
        "-H", f"unix://{SOCKET}", "--pidfile", str(PIDFILE), "--storage-driver", "overlay2",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    engine = Engine(process, log_path, made_bridge, host_before)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dockerd exited ({process.returncode}):\n{engine.log_tail()}")
        if engine.run("info", timeout_s=10, check=False).returncode == 0:
            return engine
        time.sleep(0.5)
    engine.stop()
    raise RuntimeError(f"dockerd did not answer in {timeout_s:.0f} s:\n{engine.log_tail()}")


def ensure_base_image(engine: Engine, name: str = BASE_IMAGE) -> float:
    """Make the Debian bookworm base image unless the engine has it; seconds it took (0 if not).

    ``debootstrap --variant=minbase`` from Debian's archive, then ``docker import``. The archive
    here may be a dated snapshot, so apt in the image does not check Valid-Until.
    """
    if engine.run("image", "inspect", name, check=False).returncode == 0:
        return 0.0
    if shutil.which("debootstrap") is None:
        raise RuntimeError(
            f"no {name} image and no debootstrap to make it (apt-get install debootstrap)"
        )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="eodl-base-", dir="/var/tmp") as tmp:
        root = Path(tmp) / "root"
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm",
             str(root), DEBIAN_MIRROR],
            check=True, capture_output=True, timeout=900,
        )  # fmt: skip
        (root / "etc/apt/apt.conf.d/99eodl-snapshot").write_text(
            'Acquire::Check-Valid-Until "false";\n'
        )
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            [DOCKER_CLI, "import", "-", name], stdin=tar.stdout, env=engine.env, check=True,
            capture_output=True, timeout=600,
        )  # fmt: skip
        tar.wait(60)
    return time.monotonic() - started
