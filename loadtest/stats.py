"""Numbers every benchmark reports: percentiles, process CPU and memory, the JSON summary line."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from typing import Any

import orjson

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` and its reaped children (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime + cutime + cstime) / _CLOCK_TICKS


def process_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as fh:
        resident_pages = int(fh.read().split()[1])
    return resident_pages * _PAGE / 1e6


def print_summary(summary: dict[str, Any]) -> None:
    """The machine-readable result: one JSON line on stdout, last."""
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    sys.stdout.flush()
