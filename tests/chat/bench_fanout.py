"""Measure the fan-out engine's CPU per message and per batch (not collected by pytest).

    .venv/bin/python -m tests.chat.bench_fanout

A private redis-server is started. Messages are written with pipelined raw XADDs (a cheap writer)
while the engine tails the channel and hands batches to a sink that only counts them; each case is
run once without the engine to subtract the writer's own CPU. Recipients change only the size of
the set handed over, so the engine's cost should not grow with them.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis

from chat import keys
from chat.channels import Channel, event_channel
from chat.fanout import FanoutConfig, FanoutEngine
from chat.ids import EventId, RecipientId
from tests.support.redis_server import RedisServer

MESSAGES = 20_000
CHUNK = 500
CHANNEL = event_channel(EventId("bench"))
FIELDS = {
    "k": "m",
    "s": "someone",
    "n": "Some One",
    "r": "attendee",
    "t": "a chat message of a typical size " * 2,
}


class CountingSink:
    def __init__(self) -> None:
        self.batches = 0
        self.items = 0
        self.done = asyncio.Event()

    async def deliver(self, channel: Channel, batch: bytes, recipients: frozenset[RecipientId]) -> None:
        self.batches += 1
        self.items += batch.count(b'"type":"message"')
        if self.items >= MESSAGES:
            self.done.set()


async def write_all(client: aioredis.Redis) -> None:
    stream = keys.stream_key(CHANNEL)
    for _ in range(0, MESSAGES, CHUNK):
        async with client.pipeline(transaction=False) as pipe:
            for _i in range(CHUNK):
                pipe.xadd(stream, FIELDS)  # type: ignore[arg-type]
            await pipe.execute()
        await asyncio.sleep(0.005)  # a steady stream rather than one burst


async def run(url: str, recipients: int | None) -> tuple[float, float, int]:
    client = aioredis.Redis.from_url(url)
    await client.flushall()
    sink = CountingSink()
    engine = FanoutEngine(client, sink, config=FanoutConfig(window_ms=100))
    await engine.start()
    try:
        for i in range(recipients or 0):
            await engine.subscribe(CHANNEL, RecipientId(f"sid{i}"))
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await write_all(client)
        if recipients:
            await asyncio.wait_for(sink.done.wait(), 120)
        return time.process_time() - cpu0, time.perf_counter() - wall0, sink.batches
    finally:
        await engine.stop()
        await client.aclose()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp), appendonly=False)
        server.start()
        try:
            writer_cpu, _, _ = await run(server.url, None)
            print(f"writer alone: {writer_cpu:.2f} s CPU for {MESSAGES} messages")
            for recipients in (1, 5_000):
                cpu, wall, batches = await run(server.url, recipients)
                engine_cpu = cpu - writer_cpu
                print(
                    f"recipients={recipients}: engine ~{engine_cpu:.2f} s CPU, "
                    f"{engine_cpu / MESSAGES * 1e6:.1f} us/message, {batches} batches "
                    f"({MESSAGES / batches:.0f} messages each, "
                    f"{engine_cpu / batches * 1e3:.2f} ms CPU/batch), wall {wall:.2f} s"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
