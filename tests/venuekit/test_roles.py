"""The roles as real processes: start-up, health endpoints, clean shutdown, start-up errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import VENUEKIT, Role, children_of, http_get, pid_alive, wait_until
from tests.support.redis_server import RedisServer, free_port

SECRET = "test-secret-" + "x" * 40


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_dev_serves_health_and_stops_without_orphans(tmp_path: Path, stop_signal: int) -> None:
    dev = Role("dev", tmp_path)
    dev.wait_ready(timeout_s=30)
    assert http_get(dev.base_url + "/healthz") == (200, '{"status": "ok"}')
    assert "VenueKit dev is running. Open http://127.0.0.1:" in dev.output()
    redis_pid = dev.private_redis_pid()
    assert redis_pid in children_of(dev.proc.pid)
    assert (tmp_path / "data" / "redis" / "appendonlydir").is_dir(), "AOF persistence is on"

    assert dev.stop(stop_signal) == 0
    assert not pid_alive(redis_pid)
    assert "private redis-server stopped" in dev.output()


def test_dev_killed_outright_still_takes_its_redis_down(tmp_path: Path) -> None:
    dev = Role("dev", tmp_path)
    dev.wait_ready()
    redis_pid = dev.private_redis_pid()
    dev.stop(signal.SIGKILL)
    assert wait_until(lambda: not pid_alive(redis_pid), timeout_s=10), "orphaned redis-server"


def test_readyz_reports_a_dead_private_redis(tmp_path: Path) -> None:
    dev = Role("dev", tmp_path)
    dev.wait_ready()
    os.kill(dev.private_redis_pid(), signal.SIGKILL)
    assert wait_until(
        lambda: "private redis-server exited with code" in http_get(dev.base_url + "/readyz")[1],
        timeout_s=10,
    )
    assert http_get(dev.base_url + "/readyz")[0] == 503
    assert http_get(dev.base_url + "/healthz")[0] == 200
    assert wait_until(lambda: "private redis-server exited with code" in dev.output(), 5)
    dev.stop()


def test_dev_uses_redis_url_when_given(tmp_path: Path, redis_url: str) -> None:
    dev = Role("dev", tmp_path, {"REDIS_URL": redis_url})
    dev.wait_ready()
    assert "private redis-server" not in dev.output()
    assert not (tmp_path / "data" / "redis").exists()
    assert dev.stop() == 0


@pytest.mark.parametrize("role", ["signal", "sfu"])
def test_scaled_roles_serve_health_and_metrics(tmp_path: Path, redis_url: str, role: str) -> None:
    env = {"REDIS_URL": redis_url, "VENUEKIT_SECRET_KEY": SECRET}
    proc = Role(role, tmp_path, env)
    proc.wait_ready()
    assert http_get(proc.base_url + "/healthz")[0] == 200
    status, body = http_get(proc.base_url + "/readyz")
    assert status == 200
    assert '"redis": "ok"' in body
    status, metrics = http_get(proc.base_url + "/metrics")
    assert status == 200
    assert f'venuekit_build_info{{role="{role}",version=' in metrics
    assert 'venuekit_dependency_up{dependency="redis"} 1.0' in metrics
    assert 'venuekit_http_requests_total{role="' + role + '",route="/readyz",status="200"}' in metrics
    assert "process_cpu_seconds_total" in metrics
    assert proc.stop() == 0


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    full |= {"VENUEKIT_DATA_DIR": str(tmp_path / "data")} | env
    return subprocess.run(
        [*VENUEKIT, *args], env=full, capture_output=True, text=True, timeout=60, check=False
    )


def _assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("venuekit: error:")]
    assert len(errors) == 1, result.stderr
    assert fragment in errors[0], errors[0]


@pytest.mark.parametrize(
    ("args", "env", "fragment"),
    [
        (["dev"], {"VENUEKIT_PORT": "http"}, "VENUEKIT_PORT='http' is not a port number"),
        (["dev", "--port", "99999"], {}, "--port 99999 is not a port number"),
        (["dev"], {"REDIS_URL": "http://nope"}, "must start with redis://"),
        (["dev"], {"VENUEKIT_REDIS_SERVER": "no-such-redis-server"}, "apt-get install -y redis-server"),
        (["signal"], {"VENUEKIT_SECRET_KEY": SECRET}, "REDIS_URL is required for `venuekit signal`"),
        (["signal"], {"REDIS_URL": "redis://127.0.0.1:1/0"}, "VENUEKIT_SECRET_KEY is required"),
        (["sfu"], {"VENUEKIT_SECRET_KEY": SECRET}, "REDIS_URL is required for `venuekit sfu`"),
    ],
)
def test_bad_settings_give_one_clear_line(
    tmp_path: Path, args: list[str], env: dict[str, str], fragment: str
) -> None:
    _assert_one_line_error(_run(args, env, tmp_path), fragment)


def test_unreachable_redis_gives_one_clear_line(tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    result = _run(["dev"], {"REDIS_URL": dead}, tmp_path)
    _assert_one_line_error(result, f"cannot reach Redis at {dead}")


def test_taken_port_gives_one_clear_line_and_no_orphan(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(["dev", "--port", str(port)], {}, tmp_path)
    _assert_one_line_error(result, f"cannot listen on 127.0.0.1:{port}: address already in use")
    pid_line = [ln for ln in result.stderr.splitlines() if "private redis-server pid" in ln]
    assert pid_line, result.stderr
    redis_pid = int(pid_line[0].split("pid ")[1].split()[0])
    assert not pid_alive(redis_pid)


def test_dev_restart_keeps_redis_data(tmp_path: Path) -> None:
    """AOF: what the private Redis held survives a restart of ``venuekit dev``."""
    import redis

    first = Role("dev", tmp_path)
    first.wait_ready()
    url = _private_url(first)
    redis.Redis.from_url(url).set("vk:test:durable", "yes")
    assert first.stop() == 0

    second = Role("dev", tmp_path)
    second.wait_ready()
    assert redis.Redis.from_url(_private_url(second)).get("vk:test:durable") == b"yes"
    assert second.stop() == 0


def _private_url(role: Role) -> str:
    line = next(ln for ln in role.output().splitlines() if "private redis-server pid" in ln)
    return line.split(" on ")[1].split()[0]


def test_redis_server_fixture_is_real(redis_server: RedisServer) -> None:
    import redis

    client = redis.Redis.from_url(redis_server.url)
    assert client.info("server")["redis_version"]
    client.close()
