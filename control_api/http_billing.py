"""Billing and engagement: ``GET /orgs/{org}/billing``, ``.../events/{event}/billing`` and
``.../events/{event}/engagement`` (JSON; the billing routes also CSV).

The figures come from the analytics fold through the :class:`AnalyticsSource` the composition
root wires in; this module checks who may read them (``orders.read`` in the path's organisation,
like attendance), picks the organisation's events, and shapes the answer.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Final, Protocol

from aiohttp import web

from control_api.clock import format_ms, now_ms, parse_ms
from control_api.context import services
from control_api.http_support import json_response, path_id, require
from control_api.ids import EventId, OrgId
from control_api.problems import ApiError
from control_api.roles import Permission

MAX_QUERY_CHARS: Final = 40


class AnalyticsSource(Protocol):
    """Where billing and engagement come from (the analytics fold); wired by the composition root."""

    async def event_bill(self, event_id: str, from_ms: int, to_ms: int, now_ms: int) -> dict[str, Any]:
        """``unique_participants``, ``participant_minutes``, ``sessions``, ``participants`` (each
        with its ``sessions``) and ``freshness``, as in the OpenAPI ``EventBilling`` schema."""
        ...

    async def engagement(self, event_id: str, now_ms: int) -> dict[str, Any]:
        """The OpenAPI ``Engagement`` schema without ``event_id``."""
        ...


ANALYTICS_KEY: Final = web.AppKey("control_api_analytics", AnalyticsSource)


def _source(request: web.Request) -> AnalyticsSource:
    source = request.app.get(ANALYTICS_KEY)
    if source is None:
        raise ApiError(503, "attendance_unavailable", "analytics are not served by this process")
    return source


def _period(request: web.Request, now: int) -> tuple[int, int]:
    """``from``/``to`` (RFC 3339) of the query; the whole history up to now by default."""
    bounds: list[int] = []
    for name, default in (("from", 0), ("to", now)):
        raw = request.query.get(name)
        if raw is None:
            bounds.append(default)
            continue
        try:
            if len(raw) > MAX_QUERY_CHARS or "T" not in raw:
                raise ValueError(raw)
            bounds.append(parse_ms(raw))
        except (ValueError, OverflowError):
            raise ApiError(422, "validation_failed", f"{name} must be an RFC 3339 date-time") from None
    if bounds[0] >= bounds[1]:
        raise ApiError(422, "invalid_time_range", "from must be before to")
    return bounds[0], bounds[1]


def _format(request: web.Request) -> str:
    wanted = request.query.get("format", "json")
    if wanted not in ("json", "csv"):
        raise ApiError(422, "validation_failed", "format must be json or csv")
    return wanted


def _csv(rows: list[list[Any]], filename: str) -> web.Response:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        headers={"Cache-Control": "no-store", "Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def get_org_billing(request: web.Request) -> web.StreamResponse:
    actor = await require(request, Permission.ORDERS_READ)
    wanted = _format(request)
    now = now_ms()
    from_ms, to_ms = _period(request, now)
    source = _source(request)
    lines: list[dict[str, Any]] = []
    worst: dict[str, Any] | None = None
    for record in await services(request).venue.events(actor.org_id):
        bill = await source.event_bill(record["id"], from_ms, to_ms, now)
        freshness = bill["freshness"]
        if worst is None or freshness["lag_seconds"] >= worst["lag_seconds"]:
            worst = freshness
        if bill["unique_participants"]:
            lines.append(
                {
                    "event_id": record["id"],
                    "title": record["title"],
                    "unique_participants": bill["unique_participants"],
                    "participant_minutes": bill["participant_minutes"],
                    "sessions": bill["sessions"],
                }
            )
    figures = {
        "org_id": actor.org_id,
        "from": format_ms(from_ms),
        "to": format_ms(to_ms),
        "lines": lines,
        "unique_participants": sum(line["unique_participants"] for line in lines),
        "participant_minutes": round(sum(line["participant_minutes"] for line in lines), 3),
        "freshness": worst or {"last_event_ms": None, "folded_ms": None, "lag_entries": 0, "lag_seconds": 0},
    }
    if wanted == "json":
        return json_response(figures)
    header = ["org_id", "event_id", "title", "from", "to", "unique_participants", "participant_minutes"]
    rows: list[list[Any]] = [[*header, "sessions"]]
    for line in lines:
        rows.append(
            [
                actor.org_id,
                line["event_id"],
                line["title"],
                figures["from"],
                figures["to"],
                line["unique_participants"],
                f"{line['participant_minutes']:.3f}",
                line["sessions"],
            ]
        )
    return _csv(rows, f"billing-{actor.org_id}.csv")


async def _event_of(request: web.Request) -> tuple[OrgId, EventId]:
    actor = await require(request, Permission.ORDERS_READ)
    event_id = EventId(path_id(request, "event_id"))
    await services(request).venue.event(actor.org_id, event_id)  # 404 unless the event is this tenant's
    return actor.org_id, event_id


async def get_event_billing(request: web.Request) -> web.StreamResponse:
    _org_id, event_id = await _event_of(request)
    wanted = _format(request)
    now = now_ms()
    from_ms, to_ms = _period(request, now)
    bill = await _source(request).event_bill(event_id, from_ms, to_ms, now)
    figures = {"event_id": event_id, "from": format_ms(from_ms), "to": format_ms(to_ms), **bill}
    if wanted == "json":
        return json_response(figures)
    rows: list[list[Any]] = [
        ["event_id", "participant_id", "start_ms", "end_ms", "minutes", "opened_by", "closed_by"]
    ]
    for person in bill["participants"]:
        for s in person["sessions"]:
            rows.append(
                [
                    event_id,
                    person["participant_id"],
                    s["start_ms"],
                    s["end_ms"],
                    f"{s['minutes']:.3f}",
                    s["opened_by"],
                    s["closed_by"] or "",
                ]
            )
    return _csv(rows, f"billing-{event_id}.csv")


async def get_engagement(request: web.Request) -> web.StreamResponse:
    _org_id, event_id = await _event_of(request)
    figures = await _source(request).engagement(event_id, now_ms())
    return json_response({"event_id": event_id, **figures})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/orgs/{org_id}/billing", get_org_billing)
    app.router.add_get("/orgs/{org_id}/events/{event_id}/billing", get_event_billing)
    app.router.add_get("/orgs/{org_id}/events/{event_id}/engagement", get_engagement)
