"""Two `venuekit signal` processes on one Redis: one venue, one chat, and a killed instance."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from loadtest.provision import provision
from loadtest.sio import LeanClient
from tests.support.processes import Role
from tests.support.redis_server import RedisServer

SECRET = "two-instances-" + "s" * 40


@pytest.fixture
def instances(tmp_path: Path, redis_server: RedisServer) -> Iterator[list[Role]]:
    env = {"REDIS_URL": redis_server.url, "VENUEKIT_SECRET_KEY": SECRET}
    roles = [Role("signal", tmp_path / name, env) for name in ("a", "b")]
    for role in roles:
        role.wait_ready()
    yield roles
    for role in roles:
        role.stop()


async def _until(predicate: Any, timeout_s: float = 15.0) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_one_venue_across_instances_and_identity_survives_a_killed_instance(
    instances: list[Role],
) -> None:
    a, b = instances
    venue = await provision(a.base_url, ["Ada", "Ben"], [{"name": "Hall", "kind": "room", "capacity": 10}])
    hall = venue.spaces["Hall"]
    seen: dict[str, list[tuple[str, Any]]] = {"ada": [], "ben": []}
    async with aiohttp.ClientSession() as session:
        ada = LeanClient(session, lambda n, d: seen["ada"].append((n, d)))
        ben = LeanClient(session, lambda n, d: seen["ben"].append((n, d)))
        await ada.connect(a.base_url, {"token": venue.tokens["Ada"]})
        await ben.connect(b.base_url, {"token": venue.tokens["Ben"]})
        for client in (ada, ben):
            assert (await client.call("join_space", {"space_id": hall}))["ok"]
            assert (await client.call("chat_join", {"channel": "event"}))["ok"]

        # presence crosses instances: Ada (on A) sees Ben (on B) arrive
        await _until(
            lambda: any(
                n == "presence_joined" and d["entry"]["display_name"] == "Ben" for n, d in seen["ada"]
            )
        )
        # chat crosses instances
        sent = await ben.call("chat_send", {"channel": "event", "text": "hello from B"})
        await _until(
            lambda: any(
                n == "chat_batch" and d["items"][0]["id"] == sent["data"]["id"] for n, d in seen["ada"]
            )
        )

        # instance A dies without a goodbye; Ada comes back through B as the same participant
        a.stop(signal.SIGKILL)
        again: list[tuple[str, Any]] = []
        ada2 = LeanClient(session, lambda n, d: again.append((n, d)))
        await ada2.connect(b.base_url, {"token": venue.tokens["Ada"]})
        await _until(lambda: any(n == "welcome" for n, _ in again))
        welcome = next(d for n, d in again if n == "welcome")
        assert welcome["resumed"] is True and welcome["space_id"] == hall
        snapshot = next(d for n, d in again if n == "space_snapshot")
        names = sorted(o["display_name"] for o in snapshot["occupants"])
        assert names == ["Ada", "Ben"], "one presence for Ada, not two"
        replay = await ada2.call("chat_join", {"channel": "event", "last_id": sent["data"]["id"]})
        assert replay["ok"] and replay["data"]["items"] == []
        for client in (ben, ada2):
            await client.close()
