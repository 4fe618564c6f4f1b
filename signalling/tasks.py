"""Stopping the background tasks of a signalling instance, even those that swallow a cancellation.

redis-py can turn the cancellation of a blocking read into a connection error; a loop that
retries on connection errors then carries on as if nothing happened, and ``await task`` after a
single ``cancel()`` never returns (seen as tests and processes that hung on stop). Cancelling
again reaches the loop in its back-off sleep, where nothing catches it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)


async def stop_tasks(
    tasks: Iterable[asyncio.Task[None]], *, every_s: float = 0.5, attempts: int = 20
) -> None:
    """Cancel ``tasks`` and wait for them, cancelling again every ``every_s`` while any runs."""
    pending = {task for task in tasks if not task.done()}
    for _ in range(attempts):
        if not pending:
            return
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every_s)
    if pending:
        log.error("tasks would not stop: %s", ", ".join(sorted(t.get_name() for t in pending)))
