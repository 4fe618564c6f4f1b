"""`venuekit sfu --workers N`: N node processes, each registered with its own URL, all stopped together."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import urllib.request
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from signalling.placement import NodeRegistry
from tests.support.processes import Role, children_of, pid_alive, wait_until
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.slow
SECRET = "workers-" + "w" * 40


async def _flush(url: str) -> None:
    client = aioredis.Redis.from_url(url)
    await client.flushall()
    await client.aclose()


async def _live(url: str) -> dict[str, str]:
    client = aioredis.Redis.from_url(url)
    try:
        registry = NodeRegistry(client)
        return {node: str(await registry.node_url(node)) for node in await registry.live_nodes()}
    finally:
        await client.aclose()


def _post(url: str, secret: str) -> int:
    request = urllib.request.Request(
        url + "/node/v1/spaces", data=b"{}", headers={"Authorization": f"Bearer {secret}"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert json.loads(resp.read()) == {"result": []}
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_workers_register_as_separate_nodes_and_stop_with_the_supervisor(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    asyncio.run(_flush(redis_server.url))  # no nodes left registered by earlier tests
    env = {"REDIS_URL": redis_server.url, "VENUEKIT_NODE_SECRET": SECRET, "VENUEKIT_SECRET_KEY": SECRET}
    supervisor = Role("sfu", tmp_path, env, extra_args=["--workers", "2"])
    workers: list[int] = []
    try:
        supervisor.wait_ready()  # worker 0 listens on --port
        assert wait_until(lambda: len(asyncio.run(_live(redis_server.url))) == 2, 20), supervisor.output()
        nodes = asyncio.run(_live(redis_server.url))
        urls = sorted(nodes.values())
        assert urls == [f"http://127.0.0.1:{supervisor.port}", f"http://127.0.0.1:{supervisor.port + 1}"]
        workers = children_of(supervisor.proc.pid)
        assert len(workers) == 2
        assert all(f"-{pid}-" in " ".join(nodes) for pid in workers), "one node id per worker process"
        for url in urls:
            assert _post(url, SECRET) == 200
            assert _post(url, "wrong-" + SECRET) == 401

        # a crashed worker is replaced by a fresh node on the same port
        os.kill(workers[0], signal.SIGKILL)
        assert wait_until(lambda: workers[0] not in children_of(supervisor.proc.pid), 10)
        assert wait_until(
            lambda: any(
                f"-{pid}-" in node
                for pid in set(children_of(supervisor.proc.pid)) - set(workers)
                for node in asyncio.run(_live(redis_server.url))
            ),
            20,
        ), supervisor.output()
        workers = children_of(supervisor.proc.pid)
        assert len(workers) == 2
    finally:
        started = time.monotonic()
        code = supervisor.stop(signal.SIGTERM)
        print(f"supervisor stopped in {time.monotonic() - started:.1f}s")
    assert code == 0, supervisor.output()
    assert all(not pid_alive(pid) for pid in workers)
    # stopped workers leave at once; the killed one's heartbeat lapses within its 3 s lifetime
    assert wait_until(lambda: asyncio.run(_live(redis_server.url)) == {}, 5)
