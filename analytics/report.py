"""JSON-ready figures of one event: live attendance from the totals, engagement, concurrency.

Pure: counters and people's figures in, plain dicts out (the shapes of the OpenAPI document's
``Engagement`` schema). Minutes are rounded to the millisecond (3 decimals).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from analytics.attendance import EVENT_WIDE, ParticipantId, PersonFigures

MAX_POINTS: Final = 500
MINUTE_MS: Final = 60_000


def minutes(ms: int) -> float:
    return round(ms / MINUTE_MS, 3)


def span_ms(counters: Mapping[str, int], prefix: str, now_ms: int) -> int:
    """A span's total from summed contributions: closed + (open count x now - sum of starts)."""
    opened = counters.get(prefix + ":open", 0)
    return counters.get(prefix + ":ms", 0) + opened * now_ms - counters.get(prefix + ":since", 0)


def _engagement(counters: Mapping[str, int], where: str, now_ms: int) -> dict[str, Any]:
    p = f"eng:{where}"
    return {
        "chat_messages": counters.get(p + ":chat", 0),
        "reactions": counters.get(p + ":reactions", 0),
        "hands_raised": counters.get(p + ":hands", 0),
        "speaking_minutes": minutes(span_ms(counters, p + ":speaking", now_ms)),
        "stage_minutes": minutes(span_ms(counters, p + ":stage", now_ms)),
    }


def _names(counters: Mapping[str, int], prefix: str, suffix: str) -> list[str]:
    found = {k[len(prefix) : -len(suffix)] for k in counters if k.startswith(prefix) and k.endswith(suffix)}
    return sorted(found)


def live(counters: Mapping[str, int], now_ms: int) -> dict[str, Any]:
    """Attendance and engagement totals of an event from its summed counters."""
    spaces = _names(counters, "space:", ":people")
    wheres = sorted({k[len("eng:") :].split(":", 1)[0] for k in counters if k.startswith("eng:")})
    total: dict[str, float] = dict.fromkeys(
        ("chat_messages", "reactions", "hands_raised", "speaking_minutes", "stage_minutes"), 0
    )
    per_where = {w: _engagement(counters, w, now_ms) for w in wheres}
    for figures in per_where.values():
        for key, value in figures.items():
            total[key] += value
    total["speaking_minutes"] = round(total["speaking_minutes"], 3)
    total["stage_minutes"] = round(total["stage_minutes"], 3)
    return {
        "unique_participants": counters.get("people", 0),
        "participants_online": counters.get("online:open", 0),
        "sessions": counters.get("sessions", 0),
        "participant_minutes": minutes(span_ms(counters, "online", now_ms)),
        "participants_profiled": counters.get("profiled", 0),
        "participants_not_profiled": counters.get("unprofiled", 0),
        "engagement": total,
        "spaces": [
            {
                "space_id": space,
                "unique_participants": counters.get(f"space:{space}:people", 0),
                "participants_present": counters.get(f"space:{space}:open", 0),
                "minutes": minutes(span_ms(counters, f"space:{space}", now_ms)),
                "engagement": per_where.get(space, _engagement({}, space, now_ms)),
            }
            for space in spaces
        ],
        "event_wide_engagement": per_where.get(EVENT_WIDE, _engagement({}, EVENT_WIDE, now_ms)),
    }


def participants(people: Mapping[ParticipantId, PersonFigures], now_ms: int) -> list[dict[str, Any]]:
    """Engagement of each participant who did not decline analytics."""
    out: list[dict[str, Any]] = []
    for pid, person in sorted(people.items()):
        if not person.profiling:
            continue
        eng = person.engagement.values()
        out.append(
            {
                "participant_id": pid,
                "online_minutes": minutes(person.online.at(now_ms)),
                "chat_messages": sum(e.chat_messages for e in eng),
                "reactions": sum(e.reactions for e in eng),
                "hands_raised": sum(e.hands_raised for e in eng),
                "speaking_minutes": minutes(sum(e.speaking.at(now_ms) for e in eng)),
                "stage_minutes": minutes(sum(e.stage.at(now_ms) for e in eng)),
            }
        )
    return out


def concurrency(people: Mapping[ParticipantId, PersonFigures], now_ms: int) -> list[dict[str, int]]:
    """Peak participants online per interval, from the first session to ``now_ms`` (or the last
    session end): at most :data:`MAX_POINTS` intervals of whole minutes."""
    changes: list[tuple[int, int]] = []
    for person in people.values():
        for s in person.sessions:
            changes.append((s.start_ms, 1))
            changes.append((s.end_ms if s.end_ms is not None else now_ms, -1))
    if not changes:
        return []
    changes.sort()
    first, last = changes[0][0], max(changes[-1][0], changes[0][0] + 1)
    step = MINUTE_MS * max(1, -(-(last - first) // (MINUTE_MS * MAX_POINTS)))
    points: list[dict[str, int]] = []
    online = 0
    i = 0
    bucket = first - first % step
    while bucket <= last:
        held = i >= len(changes) or changes[i][0] > bucket  # the count at the bucket's start
        peak = online if held else 0
        while i < len(changes) and changes[i][0] < bucket + step:
            at = changes[i][0]
            while i < len(changes) and changes[i][0] == at:  # (intervals are half-open)
                online += changes[i][1]
                i += 1
            peak = max(peak, online)
        points.append({"at_ms": bucket, "participants": peak})
        bucket += step
    return points
