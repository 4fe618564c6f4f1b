"""A stop signal stops the process even when a task ignores cancellation."""

from __future__ import annotations

import asyncio
import contextlib

from venuekit.cli import _end_leftover_tasks


async def test_leftover_tasks_are_cancelled_and_the_stubborn_ones_named() -> None:
    async def polite() -> None:
        await asyncio.sleep(3600)

    swallowed = 0

    async def stubborn() -> None:  # as a blocking Redis read that turns cancellation into an error
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                swallowed += 1
                if swallowed > 2:
                    raise

    nice = asyncio.create_task(polite(), name="polite")
    rude = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    assert await _end_leftover_tasks(timeout_s=0.2) == ["stubborn"]
    assert nice.cancelled()
    assert swallowed == 2  # cancelled twice, ignored both times
    rude.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await rude
    assert await _end_leftover_tasks(timeout_s=0.2) == []
