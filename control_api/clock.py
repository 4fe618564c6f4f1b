"""Time values of the API: RFC 3339 strings on the wire, integer milliseconds in the rules."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from control_api.problems import ApiError


def now_ms() -> int:
    """Wall-clock now; only the HTTP layer calls it and passes the value to pure rules."""
    return time.time_ns() // 1_000_000


def parse_ms(value: str) -> int:
    """Milliseconds since the epoch of an RFC 3339 date-time (already schema-checked)."""
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def format_ms(value_ms: int) -> str:
    """``2026-05-01T09:00:00.000Z`` for a number of milliseconds since the epoch."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(value_ms // 1000)) + f"{value_ms % 1000:03d}Z"


def check_range(starts_at: str, ends_at: str, what: str) -> None:
    """``invalid_time_range`` (422) unless ``starts_at`` is strictly before ``ends_at``."""
    if parse_ms(starts_at) >= parse_ms(ends_at):
        raise ApiError(422, "invalid_time_range", f"{what}: starts_at must be before ends_at")


def check_time_zone(name: str) -> None:
    """``invalid_time_zone`` (422) unless ``name`` is an IANA zone known to :mod:`zoneinfo`."""
    if name not in _zones():
        raise ApiError(422, "invalid_time_zone", f"{name!r} is not an IANA time zone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(422, "invalid_time_zone", f"{name!r} is not an IANA time zone") from None


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES
