"""Attendance for billing: ``GET /orgs/{org}/events/{event}/attendance`` (JSON or CSV).

The figures come from the analytics log through the :class:`~control_api.context.AttendanceSource`
the composition root wires in; this module checks who may read them and shapes the answer.
"""

from __future__ import annotations

import csv
import io

from aiohttp import web

from control_api.context import services
from control_api.http_support import json_response, path_id, require
from control_api.ids import EventId
from control_api.problems import ApiError
from control_api.roles import Permission


async def get_attendance(request: web.Request) -> web.StreamResponse:
    actor = await require(request, Permission.ORDERS_READ)
    svc = services(request)
    event_id = EventId(path_id(request, "event_id"))
    await svc.venue.event(actor.org_id, event_id)  # 404 unless the event is this tenant's
    if svc.attendance is None:
        raise ApiError(503, "attendance_unavailable", "attendance is not served by this process")
    figures = {"event_id": event_id, **await svc.attendance.attendance(event_id)}
    wanted = request.query.get("format", "json")
    if wanted == "json":
        return json_response(figures)
    if wanted != "csv":
        raise ApiError(422, "validation_failed", "format must be json or csv")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["event_id", "participant_id", "minutes"])
    for row in figures["participants"]:
        writer.writerow([event_id, row["participant_id"], f"{row['minutes']:.3f}"])
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="attendance-{event_id}.csv"',
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/orgs/{org_id}/events/{event_id}/attendance", get_attendance)
