"""The private ``redis-server`` that ``venuekit dev`` runs when no ``REDIS_URL`` is given.

It is a child process with AOF persistence under the data directory, on a free loopback port.
The kernel sends it SIGTERM if VenueKit dies without cleaning up (``PR_SET_PDEATHSIG``), so
no orphan outlives us even after a SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import shutil
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import redis.asyncio as aioredis

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "install it with `sudo apt-get install -y redis-server` (Debian/Ubuntu), "
    "or set REDIS_URL to a Redis you run yourself"
)
_PR_SET_PDEATHSIG = 1


class RedisStartError(RuntimeError):
    """The private Redis could not be started; the message is one line for the operator."""


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the caller must tolerate a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class PrivateRedis:
    """Owns one ``redis-server`` child: start, watch, stop."""

    def __init__(self, binary: str, data_dir: Path, *, on_exit: Callable[[str], None] | None = None):
        self._binary = binary
        self._dir = data_dir / "redis"
        self._on_exit = on_exit
        self._proc: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False
        self.port = 0
        self.exit_reason: str | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def log_path(self) -> Path:
        return self._dir / "redis.log"

    async def start(self, timeout_s: float = 10.0) -> str:
        path = shutil.which(self._binary)
        if path is None:
            raise RedisStartError(f"`{self._binary}` was not found on PATH: {INSTALL_HINT}")
        self._dir.mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            with (self._dir / "stderr.log").open("ab") as stderr:
                self._proc = await asyncio.create_subprocess_exec(
                    path,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(self._dir.resolve()),
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "everysec",
                    "--save",
                    "",
                    "--daemonize",
                    "no",
                    "--protected-mode",
                    "yes",
                    "--logfile",
                    str(self.log_path.resolve()),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=stderr,
                    preexec_fn=_die_with_parent,
                )
            try:
                await self._wait_ready(timeout_s)
            except RedisStartError as exc:
                last_error = str(exc)
                await self._terminate()
                continue
            log.info("private redis-server pid %s on %s (AOF in %s)", self.pid, self.url, self._dir)
            self._watch = asyncio.create_task(self._watch_exit(), name="private-redis-watch")
            return self.url
        raise RedisStartError(last_error)

    async def _wait_ready(self, timeout_s: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout_s
        client = aioredis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            while time.monotonic() < deadline:
                if self._proc.returncode is not None:
                    raise RedisStartError(
                        f"redis-server exited with code {self._proc.returncode}: {self.last_log_line()}"
                    )
                with contextlib.suppress(OSError, aioredis.RedisError):
                    if await client.ping():
                        return
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()
        raise RedisStartError(f"redis-server did not answer PING within {timeout_s:.0f}s")

    def last_log_line(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return lines[-1] if lines else "(empty log)"

    async def _watch_exit(self) -> None:
        assert self._proc is not None
        code = await self._proc.wait()
        if self._stopping:
            return
        self.exit_reason = f"private redis-server exited with code {code}: {self.last_log_line()}"
        log.error("%s", self.exit_reason)
        if self._on_exit is not None:
            self._on_exit(self.exit_reason)

    async def _terminate(self, timeout_s: float = 5.0) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            if proc is not None:
                await proc.wait()
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            log.warning("redis-server did not stop in %.0fs; killing it", timeout_s)
            proc.kill()
            await proc.wait()

    async def stop(self) -> None:
        self._stopping = True
        await self._terminate()
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        log.info("private redis-server stopped")
