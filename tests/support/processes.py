"""Run ``venuekit`` roles as real child processes and inspect the processes they leave."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.redis_server import free_port

VENUEKIT = [sys.executable, "-m", "venuekit"]


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return found


def wait_until(predicate: object, timeout_s: float = 30.0, interval_s: float = 0.05) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return bool(predicate())


def http_get(url: str, timeout_s: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class Role:
    """One ``venuekit <role>`` process on a free port with its own data directory."""

    def __init__(
        self,
        role: str,
        data_dir: Path,
        env: dict[str, str] | None = None,
        *,
        extra_args: list[str] | None = None,
    ) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.log_path = data_dir / f"{role}-{self.port}.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        full_env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        full_env |= {"VENUEKIT_DATA_DIR": str(data_dir / "data"), "PYTHONUNBUFFERED": "1"}
        full_env |= env or {}
        self._log = self.log_path.open("wb")
        port_flag = ["--port", str(self.port)]
        self.proc = subprocess.Popen(
            [*VENUEKIT, role, *port_flag, *(extra_args or [])],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout_s: float = 60.0) -> None:  # a loaded 2-core CI box is slow to start
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"venuekit exited early:\n{self.output()}")
            try:
                return http_get(self.base_url + "/readyz", 1.0)[0] == 200
            except OSError:
                return False

        assert wait_until(ready, timeout_s), f"not ready in {timeout_s}s:\n{self.output()}"

    def private_redis_pid(self) -> int:
        match = re.search(r"private redis-server pid (\d+)", self.output())
        assert match, self.output()
        return int(match.group(1))

    def stop(self, sig: int | None = None, timeout_s: float = 20.0) -> int:
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout_s)
        self._log.close()
        return code
