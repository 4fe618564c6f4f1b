"""HTTP handlers for join tokens, the JWKS that verifies them, and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from control_api import metrics
from control_api.clock import format_ms, now_ms
from control_api.context import privacy, services
from control_api.http_support import (
    actor_in,
    identify,
    json_response,
    org_and_event,
    read_body,
    ticket_holder,
)
from control_api.ids import EventId, OrgId, ParticipantId, TicketTypeId
from control_api.lifecycle import JOINABLE, EventState
from control_api.openapi import DOCUMENT
from control_api.privacy import Consent
from control_api.problems import ApiError
from control_api.roles import Permission
from control_api.tokens import ALL_SPACES, issue, make_claims
from control_api.venue import EventRecord


async def _attendee_spaces(
    request: web.Request, org_id: OrgId, event_id: EventId, teams: list[str]
) -> list[str]:
    """Every stage and room of the event, plus the team rooms of the participant's teams."""
    spaces = await services(request).venue.spaces(org_id, event_id)
    return [s["id"] for s in spaces if s["team_id"] is None or s["team_id"] in teams]


async def create_join_token(request: web.Request) -> web.Response:
    org_id, event_id = org_and_event(request)
    svc = services(request)
    holder = await ticket_holder(request, org_id, event_id)
    body = await read_body(request, "JoinTokenRequest", optional=True)
    now_s = now_ms() // 1000
    if holder is not None:
        event = await svc.venue.event(org_id, event_id)
        _require_joinable(event, organiser=False)
        participant = ParticipantId(holder["participant_id"])
        ticket_type = await svc.ticketing.ticket_type(
            org_id, event_id, TicketTypeId(holder["ticket_type_id"])
        )
        teams = [str(t) for t in await svc.venue.teams_of(org_id, event_id, participant)]
        buyer = await svc.ticketing.buyer(org_id, holder["order_id"])
        name = body.get("display_name") or buyer["name"][:64] or "Guest"
        role, spaces, ticket_id = (
            ticket_type["role"],
            await _attendee_spaces(request, org_id, event_id, teams),
            holder["id"],
        )
    else:
        identity = await identify(request)
        if identity is None:
            raise ApiError(401, "unauthenticated", "send a ticket code or sign in")
        actor = await actor_in(request, org_id, identity)
        if actor is None:
            raise ApiError(404, "not_found", "no such organisation")
        if actor.user_id is None or not actor.can(Permission.JOIN_AS_ORGANISER):
            raise ApiError(403, "forbidden", "only a signed-in organiser joins without a ticket")
        event = await svc.venue.event(org_id, event_id)
        _require_joinable(event, organiser=True)
        participant = await svc.accounts.participant_of(org_id, actor.user_id, event_id)
        _, profile_name = await svc.accounts.profile(actor.user_id)
        name = body.get("display_name") or profile_name[:64] or "Organiser"
        role, spaces, ticket_id, teams = "organiser", [ALL_SPACES], None, []
    analytics = await _consent(request, org_id, event_id, participant, body.get("consent"))
    key = await svc.keyring.current(now_s)
    claims = make_claims(
        participant_id=participant,
        org_id=org_id,
        event_id=event_id,
        name=name,
        role=role,
        teams=teams,
        spaces=spaces,
        ticket_id=ticket_id,
        now_s=now_s,
        analytics=analytics,
    )
    metrics.TOKENS_ISSUED.labels(role).inc()
    return json_response(
        {
            "token": issue(claims, key),
            "kid": key.kid,
            "expires_at": format_ms(claims.expires_at_s * 1000),
            "participant_id": participant,
        },
        201,
    )


async def _consent(
    request: web.Request, org_id: OrgId, event_id: EventId, participant: str, given: dict[str, Any] | None
) -> bool:
    """Record the consent sent with this exchange; whether analytics may profile the participant
    (their latest answer; True when they were never asked, see docs/privacy.md)."""
    store = privacy(request)
    if given is None:
        return await store.analytics_allowed(org_id, participant)
    if not given["terms"]:
        raise ApiError(422, "terms_not_accepted", "the terms must be accepted to join the event")
    consent = Consent(given["version"], True, given["recording"], given["analytics"], now_ms())
    await store.record_consent(org_id, event_id, participant, consent)
    return consent.analytics


def _require_joinable(event: EventRecord, *, organiser: bool) -> None:
    state = EventState(event["state"])
    if state in JOINABLE or (organiser and state is EventState.DRAFT):
        return
    raise ApiError(409, "event_not_joinable", f"the event is {state.value}")


async def jwks(request: web.Request) -> web.Response:
    keyring = services(request).keyring
    await keyring.current(now_ms() // 1000)
    return json_response(await keyring.jwks(), cacheable_s=60)


async def openapi(_request: web.Request) -> web.Response:
    return json_response(DOCUMENT, cacheable_s=300)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/.well-known/jwks.json", jwks)
    app.router.add_post("/orgs/{org_id}/events/{event_id}/join-tokens", create_join_token)
