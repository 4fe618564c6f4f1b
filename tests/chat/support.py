"""Test doubles for chat: a recording sink, a cuttable TCP proxy in front of Redis, waiting helpers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import orjson
from prometheus_client import REGISTRY

from chat.channels import Channel
from chat.ids import RecipientId
from chat.timeline import Timeline


class RecordingSink:
    """A :class:`chat.fanout.BatchSink` that keeps every batch, as a transport would send it."""

    def __init__(self) -> None:
        self.batches: list[tuple[Channel, bytes, frozenset[RecipientId]]] = []

    async def deliver(self, channel: Channel, batch: bytes, recipients: frozenset[RecipientId]) -> None:
        self.batches.append((channel, batch, recipients))

    def items_for(self, recipient: RecipientId, channel_name: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for channel, batch, recipients in self.batches:
            if recipient in recipients and (channel_name is None or channel.name == channel_name):
                decoded = orjson.loads(batch)
                assert decoded["channel"] == channel.name
                items.extend(decoded["items"])
        return items

    def timeline_for(self, recipient: RecipientId, channel_name: str | None = None) -> Timeline:
        timeline = Timeline()
        timeline.apply(self.items_for(recipient, channel_name))
        return timeline


async def wait_until(
    predicate: Callable[[], bool], *, timeout_s: float = 15.0, what: str = "condition"
) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 - polls state owned by code under test
            await asyncio.sleep(0.01)
    assert predicate(), what


def listener_up(instance: str) -> float | None:
    return REGISTRY.get_sample_value("venuekit_chat_listener_up", {"instance": instance})


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to a Redis; ``cut()`` drops every connection and refuses new ones
    (a partition that resets connections) and ``stall()`` keeps connections open but forwards
    nothing (a partition that black-holes packets), both until ``heal()``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.cut_now = False
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_now:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await src.read(65536):
                await self._flowing.wait()
                dst.write(data)
                await dst.drain()
        dst.close()

    def cut(self) -> None:
        self.cut_now = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def stall(self) -> None:
        self._flowing.clear()

    def heal(self) -> None:
        self.cut_now = False
        self._flowing.set()

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
