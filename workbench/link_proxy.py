"""An HTTP/1.1-aware TCP proxy that injects the faults ``tc`` cannot: latency, stalls, resets
mid-request and corrupted body bytes (TCP hides corruption, so this is how the downlink's
CRC32C and SHA-256 checks get exercised).

The proxy parses request and response framing (``Content-Length`` or chunked) so that it
touches only body bytes, and pairs every answer with its request: the counters say how many
requests were corrupted or cut, and what the server answered to each corrupted one. Faults
apply only to requests whose path matches ``FaultProfile.path_pattern`` (the chunk uploads by
default). Bounded (connection cap, header size cap, idle timeout, bounded buffers) and
stoppable. Run it as ``python -m workbench.link_proxy --listen H:P --target H:P [faults]``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import signal
import socket
import struct
import threading
from collections import Counter, deque
from dataclasses import dataclass, field

from shared.errors import ConfigurationError

_HEAD_LIMIT = 64 * 1024
_PIECE = 64 * 1024
_QUEUE_PIECES = 64  # at most ~4 MiB buffered per direction


@dataclass(frozen=True)
class FaultProfile:
    """Which faults the proxy injects, and how often.

    Attributes:
        latency_s: one-way delay added to every byte, in each direction.
        stall_rate, stall_s: probability that a matching request is held ``stall_s`` seconds
            before it is forwarded.
        reset_rate: probability that a matching request's body is cut at a random byte and
            both connections are reset (RST).
        corrupt_rate, corrupt_bytes: probability that a matching request's body has
            ``corrupt_bytes`` bytes altered (each XORed with a non-zero value).
        path_pattern: regular expression searched in the request target; faults (not latency)
            apply only to requests that match.
        seed: seed of the fault draws (None: random).
    """

    latency_s: float = 0.0
    stall_rate: float = 0.0
    stall_s: float = 0.0
    reset_rate: float = 0.0
    corrupt_rate: float = 0.0
    corrupt_bytes: int = 1
    path_pattern: str = r"/chunks/\d+$"
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("stall_rate", "reset_rate", "corrupt_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigurationError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        if self.latency_s < 0 or self.stall_s < 0 or self.corrupt_bytes < 1:
            raise ConfigurationError(
                "latency_s and stall_s must be >= 0 and corrupt_bytes >= 1; got "
                f"{self.latency_s}, {self.stall_s}, {self.corrupt_bytes}"
            )
        try:
            re.compile(self.path_pattern)
        except re.error as exc:
            raise ConfigurationError(f"path_pattern {self.path_pattern!r}: {exc}") from exc


@dataclass
class ProxyCounters:
    """What the proxy did (updated on its event loop; read with :meth:`snapshot`)."""

    connections: int = 0
    upstream_failures: int = 0
    requests: int = 0
    corrupted: int = 0
    resets: int = 0
    stalls: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    answers_to_corrupted: Counter[int] = field(default_factory=Counter)
    corrupted_paths: Counter[str] = field(default_factory=Counter)
    reset_paths: Counter[str] = field(default_factory=Counter)
    clean_success_paths: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> dict[str, object]:
        """A consistent copy of every counter (safe from any thread)."""
        with self._lock:
            return {
                "connections": self.connections,
                "upstream_failures": self.upstream_failures,
                "requests": self.requests,
                "corrupted": self.corrupted,
                "resets": self.resets,
                "stalls": self.stalls,
                "bytes_up": self.bytes_up,
                "bytes_down": self.bytes_down,
                "answers_to_corrupted": dict(self.answers_to_corrupted),
                "corrupted_paths": dict(self.corrupted_paths),
                "reset_paths": dict(self.reset_paths),
                "clean_success_paths": set(self.clean_success_paths),
            }


class _Reset(Exception):
    """Raised inside a connection to reset both sides."""


@dataclass
class _Request:
    method: str
    path: str
    corrupted: bool


class _Pipe:
    """Writes to one side after ``latency_s``, in order, with a bounded buffer."""

    def __init__(self, writer: asyncio.StreamWriter, latency_s: float) -> None:
        self.writer, self.latency_s = writer, latency_s
        self.queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(_QUEUE_PIECES)
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while (item := await self.queue.get()) is not None:
            due, data = item
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            self.writer.write(data)
            await self.writer.drain()

    async def send(self, data: bytes) -> None:
        if self.task.done():  # the side went away: surface why, instead of blocking
            raise self.task.exception() or ConnectionResetError("the connection closed")
        if data:
            await self.queue.put((asyncio.get_running_loop().time() + self.latency_s, data))

    async def finish(self, eof: bool) -> None:
        """Flush what is queued, then half-close (``eof``) or leave the side open."""
        await self.queue.put(None)
        await self.task
        if eof and self.writer.can_write_eof():
            self.writer.write_eof()


def _parse_head(head: bytes) -> tuple[list[str], dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return lines[0].split(" ", 2), headers


async def _relay_chunked(reader: asyncio.StreamReader, pipe: _Pipe, timeout: float) -> int:
    """Relay a chunked body verbatim (never altered); returns the bytes relayed."""
    total = 0
    while True:
        line = await asyncio.wait_for(reader.readuntil(b"\r\n"), timeout)
        size = int(line.split(b";")[0].strip() or b"0", 16)
        data = await asyncio.wait_for(reader.readexactly(size + 2), timeout) if size else b""
        await pipe.send(line + data)
        total += len(line) + len(data)
        if size == 0:
            break
    while (trailer := await asyncio.wait_for(reader.readuntil(b"\r\n"), timeout)) != b"\r\n":
        await pipe.send(trailer)
    await pipe.send(b"\r\n")
    return total + 2


class LinkProxy:
    """The proxy: ``await start()``, then ``port``; ``await stop()`` ends every connection.

    Args:
        target_host, target_port: where requests go (the ground station).
        profile: the faults to inject.
        listen_host, listen_port: where to listen (port 0: any free port).
        max_connections: connections served at once; more wait for a slot.
        idle_timeout_s: a connection idle this long in mid-message is closed.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        profile: FaultProfile | None = None,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        max_connections: int = 64,
        idle_timeout_s: float = 120.0,
    ) -> None:
        self.target = (target_host, target_port)
        self.listen = (listen_host, listen_port)
        self.profile = profile or FaultProfile()
        self.counters = ProxyCounters()
        self.idle_timeout_s = idle_timeout_s
        self._random = random.Random(self.profile.seed)
        self._pattern = re.compile(self.profile.path_pattern)
        self._slots = asyncio.Semaphore(max_connections)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        if self._server is None:
            raise ConfigurationError("the proxy is not started; await start() first")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Bind and start accepting connections."""
        self._server = await asyncio.start_server(
            self._accept, *self.listen, limit=_HEAD_LIMIT, reuse_address=True
        )

    async def stop(self) -> None:
        """Stop accepting and end every open connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _count(self, **increments: int) -> None:
        with self.counters._lock:
            for name, value in increments.items():
                setattr(self.counters, name, getattr(self.counters, name) + value)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            async with self._slots:
                await self._serve(reader, writer)
        except (asyncio.CancelledError, _Reset):
            _abort(writer)
        except (OSError, TimeoutError, ValueError):  # a peer gone, idle, or malformed framing
            pass
        finally:
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def _serve(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        self._count(connections=1)
        try:
            u_reader, u_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.target, limit=_HEAD_LIMIT), 10.0
            )
        except (OSError, TimeoutError):
            self._count(upstream_failures=1)
            return
        fifo: deque[_Request] = deque()
        to_server = _Pipe(u_writer, self.profile.latency_s)
        to_client = _Pipe(c_writer, self.profile.latency_s)
        up = asyncio.create_task(self._requests(c_reader, to_server, fifo))
        down = asyncio.create_task(self._responses(u_reader, to_client, fifo))
        try:
            done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            failed = [t for t in done if t.exception() is not None]
            if failed or down in done:
                if any(isinstance(t.exception(), _Reset) for t in failed):
                    _abort(u_writer)
                    raise _Reset()
                return
            await asyncio.wait_for(down, self.idle_timeout_s)
        finally:
            tasks = (up, down, to_server.task, to_client.task)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            u_writer.close()

    def _draw(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate

    async def _requests(
        self, reader: asyncio.StreamReader, pipe: _Pipe, fifo: deque[_Request]
    ) -> None:
        while True:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.idle_timeout_s)
            except asyncio.IncompleteReadError:
                await pipe.finish(eof=True)
                return
            (method, target, *_), headers = _parse_head(head)
            faulty = bool(self._pattern.search(target))
            length = int(headers.get("content-length", "0") or 0)
            corrupt = faulty and length > 0 and self._draw(self.profile.corrupt_rate)
            reset = faulty and length > 1 and not corrupt and self._draw(self.profile.reset_rate)
            self._count(requests=1)
            if faulty and self._draw(self.profile.stall_rate):
                self._count(stalls=1)
                await asyncio.sleep(self.profile.stall_s)
            fifo.append(_Request(method.upper(), target, corrupt))
            await pipe.send(head)
            self._count(bytes_up=len(head))
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self._count(bytes_up=await _relay_chunked(reader, pipe, self.idle_timeout_s))
                continue
            await self._body(reader, pipe, target, length, corrupt, reset)

    async def _body(
        self,
        reader: asyncio.StreamReader,
        pipe: _Pipe,
        target: str,
        length: int,
        corrupt: bool,
        reset: bool,
    ) -> None:
        cut = self._random.randrange(1, length) if reset else length
        flips: dict[int, int] = {}
        if corrupt:
            count = min(length, self.profile.corrupt_bytes)
            flips = {
                p: self._random.randrange(1, 256) for p in self._random.sample(range(length), count)
            }
            with self.counters._lock:
                self.counters.corrupted += 1
                self.counters.corrupted_paths[target] += 1
        offset = 0
        while offset < cut:
            piece = bytearray(
                await asyncio.wait_for(
                    reader.readexactly(min(_PIECE, cut - offset)), self.idle_timeout_s
                )
            )
            for position, mask in flips.items():
                if offset <= position < offset + len(piece):
                    piece[position - offset] ^= mask
            offset += len(piece)
            self._count(bytes_up=len(piece))
            await pipe.send(bytes(piece))
        if reset:
            await pipe.finish(eof=False)
            with self.counters._lock:
                self.counters.resets += 1
                self.counters.reset_paths[target] += 1
            raise _Reset()

    async def _responses(
        self, reader: asyncio.StreamReader, pipe: _Pipe, fifo: deque[_Request]
    ) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                await pipe.send(exc.partial)
                await pipe.finish(eof=True)
                return
            (_, status_text, *_), headers = _parse_head(head)
            status = int(status_text)
            await pipe.send(head)
            self._count(bytes_down=len(head))
            if 100 <= status < 200:
                continue
            request = fifo.popleft() if fifo else _Request("GET", "?", False)
            self._record_answer(request, status)
            await self._response_body(reader, pipe, request, status, headers)

    def _record_answer(self, request: _Request, status: int) -> None:
        with self.counters._lock:
            if request.corrupted:
                self.counters.answers_to_corrupted[status] += 1
            elif 200 <= status < 300:
                self.counters.clean_success_paths.add(request.path)

    async def _response_body(
        self,
        reader: asyncio.StreamReader,
        pipe: _Pipe,
        request: _Request,
        status: int,
        headers: dict[str, str],
    ) -> None:
        if request.method == "HEAD" or status in (204, 304):
            return
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._count(bytes_down=await _relay_chunked(reader, pipe, self.idle_timeout_s))
            return
        if "content-length" not in headers:  # delimited by close
            while data := await reader.read(_PIECE):
                self._count(bytes_down=len(data))
                await pipe.send(data)
            return
        remaining = int(headers["content-length"])
        while remaining > 0:
            data = await reader.readexactly(min(_PIECE, remaining))
            remaining -= len(data)
            self._count(bytes_down=len(data))
            await pipe.send(data)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (SO_LINGER 0) instead of a FIN: a reset, as a dropped link shows."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class ProxyThread:
    """A :class:`LinkProxy` on its own event loop in a daemon thread (for synchronous code)."""

    def __init__(self, proxy: LinkProxy) -> None:
        self.proxy = proxy
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="link-proxy", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self.proxy.start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.proxy.stop())
        self._loop.close()

    def start(self, timeout_s: float = 10.0) -> ProxyThread:
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise ConfigurationError(f"the link proxy did not start within {timeout_s} s")
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout_s)

    def __enter__(self) -> ProxyThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


def main(argv: list[str] | None = None) -> None:
    """Command line: serve until interrupted, then print the counters."""
    parser = argparse.ArgumentParser(prog="python -m workbench.link_proxy", description=__doc__)
    parser.add_argument("--listen", type=_address, default=("0.0.0.0", 8001))
    parser.add_argument("--target", type=_address, required=True)
    for name in ("latency_s", "stall_rate", "stall_s", "reset_rate", "corrupt_rate"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=0.0)
    parser.add_argument("--corrupt-bytes", type=int, default=1)
    parser.add_argument("--path-pattern", default=FaultProfile.path_pattern)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--max-connections", type=int, default=64)
    args = parser.parse_args(argv)
    profile = FaultProfile(
        latency_s=args.latency_s,
        stall_rate=args.stall_rate,
        stall_s=args.stall_s,
        reset_rate=args.reset_rate,
        corrupt_rate=args.corrupt_rate,
        corrupt_bytes=args.corrupt_bytes,
        path_pattern=args.path_pattern,
        seed=args.seed,
    )
    proxy = LinkProxy(
        *args.target,
        profile,
        listen_host=args.listen[0],
        listen_port=args.listen[1],
        max_connections=args.max_connections,
    )

    async def serve() -> None:
        stopping = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stopping.set)
        await proxy.start()
        print(
            f"link proxy on {args.listen[0]}:{proxy.port} -> {args.target[0]}:"
            f"{args.target[1]} with {profile}",
            flush=True,
        )
        try:
            await stopping.wait()
        finally:
            await proxy.stop()

    try:
        asyncio.run(serve())
    finally:
        print(f"link proxy counters: {proxy.counters.snapshot()}", flush=True)


if __name__ == "__main__":
    main()
