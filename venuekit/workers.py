"""``venuekit sfu --workers N``: N media node processes on one machine, one supervisor.

Python forwards packets on one core per process, so a machine runs one node per core. Each
worker is a complete ``venuekit sfu --workers 1`` process: its own port (``--port``,
``--port+1``, ...; or an ephemeral port each when ``--port 0``), its own node id in the
registry, its own heartbeat and the spaces placed on it. Nothing is shared between workers
but Redis, so a crashed worker loses only its own spaces, which are placed again elsewhere
like those of any dead node, and the supervisor starts a fresh worker in its place.

The supervisor forwards SIGINT/SIGTERM to every worker and waits for them. A worker that fails
at start-up (exit status 2: a bad setting, a taken port) stops the whole group, since a
restart would fail the same way.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Final

from venuekit.settings import Settings

log = logging.getLogger(__name__)

EXIT_STARTUP_ERROR: Final = 2
RESTART_DELAY_S: Final = 1.0


def _command(settings: Settings, index: int) -> list[str]:
    port = settings.sfu_port + index if settings.sfu_port else 0
    return [
        sys.executable,
        "-m",
        "venuekit",
        "sfu",
        "--workers",
        "1",
        "--host",
        settings.host,
        "--port",
        str(port),
    ]


def run_workers(count: int, settings: Settings) -> int:
    """Run ``count`` workers until a stop signal; the exit status of the group."""
    stopping = False

    def stop(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    workers: list[subprocess.Popen[bytes]] = []
    retired: set[int] = set()
    status = 0
    try:
        workers = [subprocess.Popen(_command(settings, i)) for i in range(count)]
        print(f"VenueKit sfu supervisor: {count} workers", flush=True)
        while not stopping and len(retired) < count:
            time.sleep(0.2)
            for i, proc in enumerate(workers):
                code = proc.poll()
                if code is None or stopping or i in retired:
                    continue
                if code == 0:  # stopped on purpose (SIGTERM to that worker alone): not restarted
                    log.info("sfu worker %d stopped cleanly; not restarted", i)
                    retired.add(i)
                    continue
                if code == EXIT_STARTUP_ERROR:
                    log.error("sfu worker %d could not start; stopping every worker", i)
                    status = EXIT_STARTUP_ERROR
                    stopping = True
                    break
                log.warning("sfu worker %d exited with status %s; starting a new one", i, code)
                time.sleep(RESTART_DELAY_S)
                workers[i] = subprocess.Popen(_command(settings, i))
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + settings.shutdown_timeout_s + 5
        for proc in workers:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status
