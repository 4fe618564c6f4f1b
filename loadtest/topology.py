"""The server side a media benchmark measures: which processes run, where, and whose CPU counts.

* ``split`` (the default): a throw-away ``redis-server``, one ``venuekit sfu --workers 1`` media
  node and one ``venuekit signal``, each a separate process on a free loopback port, as a
  production deployment runs them. The SFU's CPU, run-queue wait and ``/metrics`` are those of
  the media node process alone; signalling's CPU is reported beside it, never added to it.
* ``dev``: one ``venuekit dev`` (signalling, the in-process media node and its private Redis in
  one process), as before; its CPU is signalling and media together.
* ``external``: a platform somebody else runs (``--url``, optionally ``--server-pid``,
  ``--sfu-url``, ``--sfu-pid``).

Every process started here is stopped when the context ends, also on an error or Ctrl-C, and
the kernel sends it SIGTERM if this process dies without cleaning up (``PR_SET_PDEATHSIG``).
Nothing listens beyond 127.0.0.1. Nothing here imports server code.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from loadtest.chat import _platform

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Topology:
    """What one SFU measurement talks to and whose CPU it counts."""

    name: str
    """Which processes were measured, for the summary (``sfu_process``)."""
    url: str
    """Signalling: Socket.IO and the control API."""
    sfu_metrics_url: str | None
    """Where the media node's ``/metrics`` (``venuekit_sfu_*``) are served; None: not scraped."""
    sfu_pid: int | None
    """The process that forwards packets (its CPU is the SFU's CPU); None: not measured."""
    signal_pid: int | None = None
    """A separate signalling process, measured beside the SFU; None when there is none to measure
    (``dev``: signalling is inside ``sfu_pid``)."""
    redis_url: str | None = None
    """The Redis this run started (``split``); None when it started none of its own."""


class StartError(RuntimeError):
    """A server process did not start; the message names its log."""


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def children_of(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (Linux ``/proc``)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def forwarding_pid(pid: int) -> int:
    """The process that serves the media node: ``pid`` itself, or, if ``pid`` is a supervisor with
    exactly one child (``venuekit sfu`` with a worker process), that child."""
    for _ in range(4):  # bounded: a supervisor of a supervisor at most
        children = children_of(pid)
        if len(children) != 1:
            return pid
        pid = children[0]
    return pid


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)


def redis_answers(port: int) -> bool:
    """A Redis server answers PING on this loopback port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server(data_dir: Path) -> Iterator[str]:
    """A ``redis-server`` on a free loopback port without persistence; yields its URL.

    The binary is found as ``venuekit dev`` finds it: ``VENUEKIT_REDIS_SERVER`` or ``redis-server``
    on ``PATH``."""
    name = os.environ.get("VENUEKIT_REDIS_SERVER", "redis-server")
    binary = shutil.which(name)
    if binary is None:
        raise StartError(f"`{name}` was not found on PATH: install redis-server (scripts/setup --dev)")
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir)]
    argv += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"]
    argv += ["--logfile", str(data_dir / "redis.log")]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads run yet; the child only execs
    )
    try:
        deadline = time.monotonic() + 10
        while not redis_answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise StartError(f"redis-server on port {port} did not start; see {data_dir}/redis.log")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc)


def _ready(port: int) -> bool:
    """``GET /readyz`` on the loopback ``port`` answers 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


@contextlib.contextmanager
def venuekit_role(
    role: str, env: dict[str, str], data_dir: Path, extra: list[str]
) -> Iterator[tuple[str, int]]:
    """``venuekit <role>`` on a free loopback port until ``/readyz`` answers 200; yields (url, pid)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = data_dir / f"{role}.log"
    full_env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    full_env |= env | {"VENUEKIT_DATA_DIR": str(data_dir / "data"), "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "venuekit", role, "--host", "127.0.0.1", "--port", str(port), *extra],
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads run yet; the child only execs
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _ready(port):
                if proc.poll() is not None:
                    raise StartError(f"venuekit {role} exited with {proc.returncode}; see {log_path}")
                if time.monotonic() > deadline:
                    raise StartError(
                        f"venuekit {role} not ready within {START_TIMEOUT_S:.0f} s; see {log_path}"
                    )
                time.sleep(0.1)
            yield url, proc.pid
        finally:
            _stop(proc)


@contextlib.contextmanager
def split() -> Iterator[Topology]:
    """Redis, then ``venuekit sfu --workers 1`` (ready once registered in Redis), then ``venuekit
    signal``; all stopped in reverse order. The data directory is removed unless a start failed."""
    root = Path(tempfile.mkdtemp(prefix="vk-media-bench-"))
    env = {
        "VENUEKIT_SECRET_KEY": secrets.token_urlsafe(48),
        "VENUEKIT_NODE_SECRET": secrets.token_urlsafe(48),
        "VENUEKIT_LOG_LEVEL": "WARNING",
        "VENUEKIT_MEDIA_HOSTS": "127.0.0.1",  # loopback only, whatever the caller's environment says
        "VENUEKIT_SFU_ADVERTISE_HOST": "127.0.0.1",
    }
    failed = False
    try:
        with contextlib.ExitStack() as stack:
            redis_url = stack.enter_context(redis_server(root / "redis"))
            env["REDIS_URL"] = redis_url
            sfu_url, sfu_pid = stack.enter_context(
                venuekit_role("sfu", env, root / "sfu", ["--workers", "1"])
            )
            signal_url, signal_pid = stack.enter_context(venuekit_role("signal", env, root / "signal", []))
            worker = forwarding_pid(sfu_pid)
            name = "venuekit sfu --workers 1" + (" (its worker process)" if worker != sfu_pid else "")
            yield Topology(name, signal_url, sfu_url, worker, signal_pid, redis_url)
    except StartError:
        failed = True
        raise
    finally:
        if not failed:
            shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def dev() -> Iterator[Topology]:
    """One ``venuekit dev``: signalling and the media node in one process."""
    with _platform(None, None) as (url, pid):
        yield Topology("venuekit dev (signalling and media node in one process)", url, url, pid)


@contextlib.contextmanager
def external(
    url: str, server_pid: int | None, sfu_url: str | None, sfu_pid: int | None
) -> Iterator[Topology]:
    """A running platform: nothing is started or stopped."""
    if sfu_url is None and sfu_pid is None:  # one process, as ``venuekit dev``
        yield Topology("external --url", url, url, server_pid)
        return
    yield Topology("external --url with --sfu-url/--sfu-pid", url, sfu_url, sfu_pid, server_pid)
