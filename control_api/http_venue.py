"""HTTP handlers for events (and their lifecycle), spaces, the agenda and hackathon teams."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import web

from control_api.clock import check_range, check_time_zone, now_ms, parse_ms
from control_api.context import services
from control_api.http_support import (
    Actor,
    actor_in,
    identify,
    json_response,
    org_and_event,
    path_id,
    read_body,
    require,
    ticket_holder,
)
from control_api.http_tickets import sales_open
from control_api.ids import EventId, OrgId, ParticipantId, SpaceId, TeamId
from control_api.lifecycle import (
    JOINABLE,
    ON_SALE,
    EventAction,
    EventState,
    next_state,
    require_editable,
)
from control_api.problems import ApiError
from control_api.roles import Permission
from control_api.ticketing import TicketRecord
from control_api.venue import EventRecord


def _checked_event_fields(fields: dict[str, Any]) -> None:
    check_time_zone(fields["time_zone"])
    check_range(fields["starts_at"], fields["ends_at"], "event")


async def create_event(request: web.Request) -> web.Response:
    actor = await require(request, Permission.EVENTS_WRITE)
    body = await read_body(request, "EventCreate")
    _checked_event_fields(body)
    record = await services(request).venue.create_event(actor.org_id, body, now_ms())
    return json_response(record, 201)


async def list_events(request: web.Request) -> web.Response:
    actor = await require(request, Permission.EVENTS_READ)
    return json_response({"items": await services(request).venue.events(actor.org_id)})


async def get_event(request: web.Request) -> web.Response:
    """Members with read access, and ticket holders of this event."""
    _, event, _, _ = await _event_caller(request, Permission.EVENTS_READ)
    return json_response(event)


async def patch_event(request: web.Request) -> web.Response:
    actor = await require(request, Permission.EVENTS_WRITE)
    event_id = EventId(path_id(request, "event_id"))
    body = await read_body(request, "EventPatch")

    def change(record: EventRecord) -> EventRecord:
        require_editable(EventState(record["state"]))
        updated = cast(EventRecord, {**record, **body})
        _checked_event_fields(dict(updated))
        return updated

    return json_response(await services(request).venue.update_event(actor.org_id, event_id, change))


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _transition(action: EventAction) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        actor = await require(request, Permission.EVENTS_WRITE)
        event_id = EventId(path_id(request, "event_id"))

        def change(record: EventRecord) -> EventRecord:
            target = next_state(EventState(record["state"]), action)
            return {**record, "state": target.value}

        return json_response(await services(request).venue.update_event(actor.org_id, event_id, change))

    return handler


async def _editable_event(request: web.Request, actor: Actor) -> EventRecord:
    event = await services(request).venue.event(actor.org_id, EventId(path_id(request, "event_id")))
    require_editable(EventState(event["state"]))
    return event


async def create_space(request: web.Request) -> web.Response:
    actor = await require(request, Permission.EVENTS_WRITE)
    event = await _editable_event(request, actor)
    body = await read_body(request, "SpaceCreate")
    record = await services(request).venue.add_space(
        actor.org_id, EventId(event["id"]), body["name"], body["kind"], body["capacity"]
    )
    return json_response(record, 201)


async def list_spaces(request: web.Request) -> web.Response:
    """Members with read access, and ticket holders of this event."""
    org_id, event, _, _ = await _event_caller(request, Permission.EVENTS_READ)
    return json_response({"items": await services(request).venue.spaces(org_id, EventId(event["id"]))})


async def patch_space(request: web.Request) -> web.Response:
    actor = await require(request, Permission.EVENTS_WRITE)
    event = await _editable_event(request, actor)
    body = await read_body(request, "SpacePatch")
    space_id = SpaceId(path_id(request, "space_id"))
    record = await services(request).venue.update_space(actor.org_id, EventId(event["id"]), space_id, body)
    return json_response(record)


async def delete_space(request: web.Request) -> web.Response:
    actor = await require(request, Permission.EVENTS_WRITE)
    event = await _editable_event(request, actor)
    space_id = SpaceId(path_id(request, "space_id"))
    await services(request).venue.delete_space(actor.org_id, EventId(event["id"]), space_id)
    return web.Response(status=204)


async def create_agenda_item(request: web.Request) -> web.Response:
    actor = await require(request, Permission.EVENTS_WRITE)
    event = await _editable_event(request, actor)
    body = await read_body(request, "AgendaItemCreate")
    event_id = EventId(event["id"])
    venue = services(request).venue
    space = await venue.space(actor.org_id, event_id, SpaceId(body["space_id"]))
    if space is None:
        raise ApiError(404, "not_found", "no such space in this event")
    if space["kind"] != "stage":
        raise ApiError(422, "space_not_stage", f"space {space['id']} is a {space['kind']}")
    check_range(body["starts_at"], body["ends_at"], "agenda session")
    if parse_ms(body["starts_at"]) < parse_ms(event["starts_at"]) or parse_ms(body["ends_at"]) > parse_ms(
        event["ends_at"]
    ):
        raise ApiError(422, "invalid_time_range", "the session must lie within the event")
    record = await venue.add_agenda_item(actor.org_id, event_id, body)
    return json_response(record, 201)


async def list_agenda(request: web.Request) -> web.Response:
    """Members with read access, and ticket holders of this event."""
    org_id, event, _, _ = await _event_caller(request, Permission.EVENTS_READ)
    items = await services(request).venue.agenda(org_id, EventId(event["id"]))
    items.sort(key=lambda item: (parse_ms(item["starts_at"]), item["id"]))
    return json_response({"items": items})


PUBLIC_STATES = frozenset({EventState.PUBLISHED, EventState.LIVE, EventState.ENDED})
"""A draft is the organisers' business: to the public it does not exist."""


async def public_event(request: web.Request) -> web.Response:
    """What anyone may see of a published event: the event page of the web client.

    Only public fields: no capacity, quotas, sales figures, team or participant data. A draft and
    an unknown event both answer ``404 not_found``, so the public learns nothing about drafts.
    """
    org_id, event_id = org_and_event(request)
    svc = services(request)
    event = await svc.venue.event(org_id, event_id)
    state = EventState(event["state"])
    if state not in PUBLIC_STATES:
        raise ApiError(404, "not_found", "no such event")
    spaces = {s["id"]: s for s in await svc.venue.spaces(org_id, event_id)}
    agenda = await svc.venue.agenda(org_id, event_id)
    agenda.sort(key=lambda item: (parse_ms(item["starts_at"]), item["id"]))
    ticket_types: list[dict[str, Any]] = []
    if state in ON_SALE:
        now = now_ms()
        event_full = await svc.ticketing.event_sold(org_id, event_id) >= event["capacity"]
        on_offer = await svc.ticketing.ticket_types(org_id, event_id)
        on_offer.sort(key=lambda r: (r["price_minor"], r["name"], r["id"]))  # cheapest first
        for record in on_offer:
            if not sales_open(record, now):
                continue
            quota, sold = await svc.ticketing.inventory(org_id, record["id"])
            ticket_types.append(
                {
                    "id": record["id"],
                    "name": record["name"],
                    "price_minor": record["price_minor"],
                    "currency": record["currency"],
                    "sales_end": record["sales_end"],
                    "per_order_max": record["per_order_max"],
                    "invite_only": record["invite_only"],
                    "sold_out": event_full or sold >= quota,
                }
            )
    body = {
        "id": event["id"],
        "org_id": event["org_id"],
        "title": event["title"],
        "description": event["description"],
        "time_zone": event["time_zone"],
        "starts_at": event["starts_at"],
        "ends_at": event["ends_at"],
        "state": state.value,
        "agenda": [
            {
                "id": item["id"],
                "title": item["title"],
                "starts_at": item["starts_at"],
                "ends_at": item["ends_at"],
                "space_id": item["space_id"],
                "space_name": spaces[item["space_id"]]["name"] if item["space_id"] in spaces else "",
            }
            for item in agenda
        ],
        "ticket_types": ticket_types,
    }
    return json_response(body)


async def _event_caller(
    request: web.Request, permission: Permission
) -> tuple[OrgId, EventRecord, TicketRecord | None, Actor | None]:
    """A valid ticket holder of the event, or a member with ``permission``; 401/404/403 otherwise.

    Exactly one of the returned ticket and actor is set.
    """
    org_id, event_id = org_and_event(request)
    holder = await ticket_holder(request, org_id, event_id)
    actor = None
    if holder is None:
        identity = await identify(request)
        if identity is None:
            raise ApiError(401, "unauthenticated", "send a ticket code, a session or an API key")
        actor = await actor_in(request, org_id, identity)
        if actor is None:
            raise ApiError(404, "not_found", "no such organisation")
        if not actor.can(permission):
            raise ApiError(403, "forbidden", f"role {actor.role.value} may not {permission.value}")
    event = await services(request).venue.event(org_id, event_id)
    return org_id, event, holder, actor


def _require_running(event: EventRecord) -> None:
    if EventState(event["state"]) not in JOINABLE:
        raise ApiError(409, "invalid_transition", "teams change only while the event is published or live")


async def create_team(request: web.Request) -> web.Response:
    org_id, event, holder, _ = await _event_caller(request, Permission.TEAMS_MANAGE)
    _require_running(event)
    body = await read_body(request, "TeamCreate")
    captain = ParticipantId(holder["participant_id"]) if holder is not None else None
    venue = services(request).venue
    team_id = await venue.create_team(org_id, event, body["name"], captain, now_ms())
    return json_response(await venue.team(org_id, EventId(event["id"]), team_id), 201)


async def list_teams(request: web.Request) -> web.Response:
    org_id, event, _, _ = await _event_caller(request, Permission.EVENTS_READ)
    return json_response({"items": await services(request).venue.teams(org_id, EventId(event["id"]))})


async def join_team(request: web.Request) -> web.Response:
    org_id, event, holder, _ = await _event_caller(request, Permission.TEAMS_MANAGE)
    if holder is None:
        raise ApiError(403, "forbidden", "only a ticket holder joins a team (Authorization: Ticket <code>)")
    _require_running(event)
    team_id = TeamId(path_id(request, "team_id"))
    venue = services(request).venue
    await venue.join_team(org_id, event, team_id, ParticipantId(holder["participant_id"]), now_ms())
    return json_response(await venue.team(org_id, EventId(event["id"]), team_id))


async def leave_team(request: web.Request) -> web.Response:
    org_id, event, holder, _ = await _event_caller(request, Permission.TEAMS_MANAGE)
    team_id = TeamId(path_id(request, "team_id"))
    participant = ParticipantId(path_id(request, "participant_id"))
    if holder is not None and holder["participant_id"] != participant:
        raise ApiError(403, "forbidden", "a ticket holder can only remove themselves")
    venue = services(request).venue
    event_id = EventId(event["id"])
    await venue.leave_team(org_id, event_id, team_id, participant, force=holder is None)
    return json_response(await venue.team(org_id, event_id, team_id))


async def patch_team(request: web.Request) -> web.Response:
    """Organisers change anything; the captain (a ticket holder) renames or hands over."""
    org_id, event, holder, _ = await _event_caller(request, Permission.TEAMS_MANAGE)
    team_id = TeamId(path_id(request, "team_id"))
    body = await read_body(request, "TeamPatch")
    venue = services(request).venue
    event_id = EventId(event["id"])
    if holder is not None:
        team = await venue.team(org_id, event_id, team_id)
        if team["captain"] != holder["participant_id"]:
            raise ApiError(403, "forbidden", "only the captain or an organiser changes a team")
        if "size_max" in body:
            raise ApiError(403, "forbidden", "only an organiser changes the size limit")
        _require_running(event)
    await venue.update_team(
        org_id,
        event_id,
        team_id,
        name=body.get("name"),
        captain=ParticipantId(body["captain"]) if "captain" in body else None,
        size_max=body.get("size_max"),
    )
    return json_response(await venue.team(org_id, event_id, team_id))


async def delete_team(request: web.Request) -> web.Response:
    actor = await require(request, Permission.TEAMS_MANAGE)
    event_id = EventId(path_id(request, "event_id"))
    venue = services(request).venue
    await venue.event(actor.org_id, event_id)
    await venue.delete_team(actor.org_id, event_id, TeamId(path_id(request, "team_id")))
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    evt = "/orgs/{org_id}/events/{event_id}"
    app.router.add_get("/orgs/{org_id}/events", list_events)
    app.router.add_post("/orgs/{org_id}/events", create_event)
    app.router.add_get(evt, get_event)
    app.router.add_get(evt + "/public", public_event)
    app.router.add_patch(evt, patch_event)
    for action in EventAction:
        app.router.add_post(f"{evt}/{action.value}", _transition(action))
    app.router.add_get(evt + "/spaces", list_spaces)
    app.router.add_post(evt + "/spaces", create_space)
    app.router.add_patch(evt + "/spaces/{space_id}", patch_space)
    app.router.add_delete(evt + "/spaces/{space_id}", delete_space)
    app.router.add_get(evt + "/agenda", list_agenda)
    app.router.add_post(evt + "/agenda", create_agenda_item)
    app.router.add_get(evt + "/teams", list_teams)
    app.router.add_post(evt + "/teams", create_team)
    app.router.add_patch(evt + "/teams/{team_id}", patch_team)
    app.router.add_delete(evt + "/teams/{team_id}", delete_team)
    app.router.add_post(evt + "/teams/{team_id}/members", join_team)
    app.router.add_delete(evt + "/teams/{team_id}/members/{participant_id}", leave_team)
