"""`venuekit backup` and `venuekit restore`: what the API stored comes back after a loss."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import aiohttp
import redis

from loadtest.provision import PASSWORD, cookie_session, provision
from tests.support.processes import VENUEKIT, Role
from tests.support.redis_server import RedisServer

SECRET = "backup-restore-" + "k" * 40


def _tool(args: list[str], redis_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": redis_url}
    return subprocess.run(
        [*VENUEKIT, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


async def test_backup_then_restore_after_losing_everything(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    env = {"REDIS_URL": server.url, "VENUEKIT_SECRET_KEY": SECRET}
    api = Role("signal", tmp_path / "signal", env)
    try:
        api.wait_ready()
        venue = await provision(
            api.base_url, ["Owner"], [{"name": "Hall", "kind": "room", "capacity": 5}], attendees=2
        )
        keys_before = redis.Redis.from_url(server.url).dbsize()

        dump = tmp_path / "venuekit.backup"
        made = _tool(["backup", str(dump)], server.url)
        assert made.returncode == 0, made.stderr
        assert f"backed up {keys_before} keys" in made.stdout

        redis.Redis.from_url(server.url).flushall()  # the disaster
        restored = _tool(["restore", str(dump)], server.url)
        assert restored.returncode == 0, restored.stderr
        assert redis.Redis.from_url(server.url).dbsize() == keys_before

        # the platform serves what it had: the organiser signs in and reads the event and orders
        async with cookie_session() as owner:
            login = {"email": venue.owner_email, "password": PASSWORD}
            async with owner.post(f"{venue.api}/sessions", json=login) as resp:
                assert resp.status == 201
            async with owner.get(f"{venue.event_base}/spaces") as resp:
                assert [s["name"] for s in (await resp.json())["items"]] == ["Hall"]
            async with owner.get(f"{venue.event_base}/orders") as resp:
                assert len((await resp.json())["items"]) == 1
        async with aiohttp.ClientSession() as public:  # and the attendees' tickets still work
            headers = {"Authorization": f"Ticket {venue.ticket_codes[0]}"}
            async with public.post(f"{venue.event_base}/join-tokens", headers=headers) as resp:
                assert resp.status == 201
    finally:
        api.stop()
        server.stop()


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path, redis_url: str) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello\n")
    result = _tool(["restore", str(bogus)], redis_url)
    assert result.returncode == 2
    assert "is not a venuekit-backup version 1 file" in result.stderr
    assert "Traceback" not in result.stderr


def test_backup_needs_a_redis_url(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    result = subprocess.run(
        [*VENUEKIT, "backup", str(tmp_path / "x")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "REDIS_URL is required for `venuekit backup`" in result.stderr
