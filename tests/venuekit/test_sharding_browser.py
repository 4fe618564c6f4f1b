"""The browser client follows its space to another media node by itself (`media_reset`).

Two headless Chromium participants in a room served by `venuekit signal` with two `venuekit
sfu` nodes; the node hosting the room is SIGKILLed, and both browsers decode each other's video
again on new peer connections, without anyone clicking anything.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from playwright.sync_api import Browser, Page

from loadtest.provision import provision, run_sync
from signalling.placement import PLACEMENT_KEY
from tests.support.browser import enter_space
from tests.support.processes import Role
from tests.support.redis_server import RedisServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ENV = {
    "VENUEKIT_SECRET_KEY": "sharding-browser-" + "k" * 40,
    "VENUEKIT_LOG_LEVEL": "WARNING",
}

VIDEO_FRAMES = """
async () => {
  const pc = window.venuekit.media.sub;
  if (!pc) return 0;
  let decoded = 0;
  (await pc.getStats()).forEach(r => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') decoded += r.framesDecoded || 0;
  });
  return decoded;
}
"""


async def _flush(url: str) -> None:
    client = aioredis.Redis.from_url(url)
    await client.flushall()
    await client.aclose()


async def _hosting_node(url: str) -> str:
    client = aioredis.Redis.from_url(url)
    try:
        placements = await client.hgetall(PLACEMENT_KEY)
    finally:
        await client.aclose()
    assert len(placements) == 1, placements
    return next(iter(placements.values())).decode()


@pytest.fixture
def roles(tmp_path: Path, redis_server: RedisServer) -> Iterator[tuple[Role, list[Role]]]:
    run_sync(lambda: _flush(redis_server.url))
    env = {**ENV, "REDIS_URL": redis_server.url}
    sfus = [Role("sfu", tmp_path / f"sfu-{i}", env, extra_args=["--workers", "1"]) for i in range(2)]
    edge = Role("signal", tmp_path / "signal", env)
    try:
        for role in (*sfus, edge):
            role.wait_ready()
        yield edge, sfus
    finally:
        for role in (edge, *sfus):
            role.stop()


def test_browsers_get_media_again_after_their_node_dies(
    browser: Browser, roles: tuple[Role, list[Role]], redis_server: RedisServer
) -> None:
    edge, sfus = roles
    venue = run_sync(
        lambda: provision(edge.base_url, ["Ada", "Grace"], [{"name": "Hall", "kind": "room", "capacity": 10}])
    )
    hall = venue.spaces["Hall"]
    errors: list[str] = []
    pages: list[Page] = []
    try:
        for name in ("Ada", "Grace"):
            page = enter_space(browser, f"{edge.base_url}/#token={venue.tokens[name]}", hall)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            pages.append(page)
        for page in pages:
            page.wait_for_function(f"({VIDEO_FRAMES})().then(n => n > 5)", timeout=30_000)
            page.evaluate("() => { window.__oldSub = window.venuekit.media.sub; }")

        node = run_sync(lambda: _hosting_node(redis_server.url))
        doomed = next(s for s in sfus if f"-{s.proc.pid}-" in node)
        doomed.stop(signal.SIGKILL)
        for page in pages:  # new connections, decoding again, within 10 s of the kill
            page.wait_for_function(
                "window.venuekit.media.sub && window.venuekit.media.sub !== window.__oldSub",
                timeout=10_000,
            )
            page.wait_for_function(f"({VIDEO_FRAMES})().then(n => n > 5)", timeout=10_000)
        assert errors == [], errors
    finally:
        for page in pages:
            page.context.close()
