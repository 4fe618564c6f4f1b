"""Garbage-collector settings for a process that holds thousands of long-lived sockets.

CPython's full (generation 2) collections walk every tracked object; with thousands of socket,
task and protocol objects alive for hours they run often and stall every emit (measured in
shared/notes/chat-fanout.md: 52 s of a 125 s run). Long-lived objects are moved out of the
collector's view with ``gc.freeze()`` every ``period_s`` (new garbage is still collected), and
generation 0 is collected less eagerly. ``docs/BENCHMARKS.md`` has the before and after.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Final

from prometheus_client import Counter

log = logging.getLogger(__name__)

GEN0_THRESHOLD: Final = 50_000
FREEZES = Counter(
    "venuekit_gc_freezes_total", "Times long-lived objects were moved out of the collector's view"
)


def apply() -> None:
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)


async def freeze_periodically(period_s: float = 30.0) -> None:
    """Freeze what survived; owned by the role's task set and cancelled on stop."""
    while True:
        await asyncio.sleep(period_s)
        gc.freeze()
        FREEZES.inc()
        if log.isEnabledFor(logging.DEBUG):  # the count walks every frozen object
            log.debug("gc.freeze: %d objects now out of the collector's view", gc.get_freeze_count())
