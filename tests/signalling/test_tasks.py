"""Background loops stop even when a cancellation comes back to them as a connection error."""

from __future__ import annotations

import asyncio

from signalling.tasks import stop_tasks


async def test_a_loop_that_swallows_one_cancellation_still_stops() -> None:
    swallowed = 0

    async def retrying_reader() -> None:  # the shape of our Redis loops
        nonlocal swallowed
        while True:
            try:
                try:
                    await asyncio.sleep(3600)  # a blocking read
                except asyncio.CancelledError:
                    swallowed += 1
                    raise ConnectionError("connection lost") from None  # what redis-py may raise
            except ConnectionError:
                await asyncio.sleep(0.5)  # back off and retry

    task = asyncio.create_task(retrying_reader(), name="reader")
    await asyncio.sleep(0)
    await stop_tasks([task], every_s=0.05)
    assert task.done() and swallowed == 1
