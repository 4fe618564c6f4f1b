"""HTTP handlers for ticket types, invite codes, orders (idempotent, quota-safe), tickets and
check-ins."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from control_api import metrics
from control_api.clock import check_range, format_ms, now_ms, parse_ms
from control_api.context import Services, services
from control_api.http_support import (
    idempotency_key,
    json_response,
    org_and_event,
    path_id,
    read_body,
    require,
)
from control_api.ids import EventId, OrderId, OrgId, TicketId, TicketTypeId, new_id
from control_api.lifecycle import ON_SALE, EventState, require_editable
from control_api.problems import ApiError
from control_api.roles import Permission
from control_api.ticket_codes import make_code, parse_code
from control_api.ticketing import (
    OrderAction,
    OrderRecord,
    OrderState,
    SaleContext,
    StaleSaleContext,
    TicketRecord,
    TicketTypeRecord,
    ticket_state,
)


async def _type_view(svc: Services, org_id: OrgId, record: TicketTypeRecord) -> dict[str, Any]:
    quota, sold = await svc.ticketing.inventory(org_id, record["id"])
    return {**record, "quota": quota, "sold": sold}


async def create_ticket_type(request: web.Request) -> web.Response:
    actor = await require(request, Permission.TICKETS_MANAGE)
    svc = services(request)
    event = await svc.venue.event(actor.org_id, EventId(path_id(request, "event_id")))
    require_editable(EventState(event["state"]))
    body = await read_body(request, "TicketTypeCreate")
    check_range(body["sales_start"], body["sales_end"], "sales window")
    record: TicketTypeRecord = {
        "id": new_id("tt"),
        "event_id": event["id"],
        "name": body["name"],
        "price_minor": body["price_minor"],
        "currency": body["currency"],
        "sales_start": body["sales_start"],
        "sales_end": body["sales_end"],
        "per_order_max": body["per_order_max"],
        "invite_only": body.get("invite_only", False),
        "role": body.get("role", "attendee"),
    }
    await svc.ticketing.add_ticket_type(actor.org_id, record, body["quota"])
    return json_response(await _type_view(svc, actor.org_id, record), 201)


async def list_ticket_types(request: web.Request) -> web.Response:
    """Public while the event is on sale; otherwise members only."""
    org_id, event_id = org_and_event(request)
    svc = services(request)
    try:
        event = await svc.venue.event(org_id, event_id)
        on_sale = EventState(event["state"]) in ON_SALE
    except ApiError:
        on_sale = False
    if not on_sale:
        await require(request, Permission.EVENTS_READ)
        await svc.venue.event(org_id, event_id)
    records = await svc.ticketing.ticket_types(org_id, event_id)
    return json_response({"items": [await _type_view(svc, org_id, r) for r in records]})


async def patch_ticket_type(request: web.Request) -> web.Response:
    actor = await require(request, Permission.TICKETS_MANAGE)
    svc = services(request)
    event = await svc.venue.event(actor.org_id, EventId(path_id(request, "event_id")))
    require_editable(EventState(event["state"]))
    type_id = TicketTypeId(path_id(request, "ticket_type_id"))
    record = await svc.ticketing.ticket_type(actor.org_id, EventId(event["id"]), type_id)
    body = await read_body(request, "TicketTypePatch")
    updated: TicketTypeRecord = {**record}
    for name in ("name", "sales_start", "sales_end", "per_order_max"):
        if name in body:
            updated[name] = body[name]
    check_range(updated["sales_start"], updated["sales_end"], "sales window")
    if "quota" in body:
        await svc.ticketing.set_quota(actor.org_id, type_id, body["quota"])
    await svc.ticketing.replace_ticket_type(actor.org_id, updated)
    return json_response(await _type_view(svc, actor.org_id, updated))


async def create_invite(request: web.Request) -> web.Response:
    actor = await require(request, Permission.TICKETS_MANAGE)
    svc = services(request)
    event_id = EventId(path_id(request, "event_id"))
    await svc.venue.event(actor.org_id, event_id)
    body = await read_body(request, "InviteCreate")
    await svc.ticketing.ticket_type(actor.org_id, event_id, TicketTypeId(body["ticket_type_id"]))
    code = secrets.token_urlsafe(12)
    await svc.ticketing.add_invite(actor.org_id, event_id, code, body["ticket_type_id"], body["max_uses"])
    return json_response(
        {"code": code, "ticket_type_id": body["ticket_type_id"], "max_uses": body["max_uses"], "uses": 0}, 201
    )


def _fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def sales_open(record: TicketTypeRecord, now: int) -> bool:
    """The sales window is ``[sales_start, sales_end)``."""
    return parse_ms(record["sales_start"]) <= now < parse_ms(record["sales_end"])


async def _order_created_body(svc: Services, org_id: OrgId, order: OrderRecord) -> dict[str, Any]:
    tickets = [{"id": t, "code": make_code(svc.secret_key, org_id, TicketId(t))} for t in order["ticket_ids"]]
    return {"order": await _order_view(svc, org_id, order), "tickets": tickets}


def _refused(error: ApiError) -> ApiError:
    metrics.ORDERS_REFUSED.labels(error.code).inc()
    return error


async def _replay(svc: Services, org_id: OrgId, event_id: EventId, order_id: OrderId) -> web.Response:
    earlier = await svc.ticketing.order(org_id, event_id, order_id)
    response = json_response(await _order_created_body(svc, org_id, earlier), 201)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _sale_of(event_raw: bytes | None, type_raw: bytes | None) -> SaleContext:
    if event_raw is None:
        raise ApiError(404, "not_found", "no such event")
    if type_raw is None:
        raise ApiError(404, "not_found", "no such ticket type")
    return SaleContext.parse(event_raw, type_raw)


def _check_sale(sale: SaleContext, body: dict[str, Any], now: int) -> None:
    """Refuse what the event's state, the sales window, the per-order limit or an invite-only
    type forbid (quota, capacity and the invite code itself are the order script's)."""
    event, ticket_type = sale.event, sale.ticket_type
    if EventState(event["state"]) not in ON_SALE:
        raise ApiError(409, "event_not_on_sale", f"the event is {event['state']}")
    if not sale.sales_open(now):
        raise ApiError(409, "sales_closed")
    if body["quantity"] > ticket_type["per_order_max"]:
        raise ApiError(422, "order_limit_exceeded", f"at most {ticket_type['per_order_max']} per order")
    if ticket_type["invite_only"] and body.get("invite_code") is None:
        raise ApiError(403, "invite_required")


SALE_ATTEMPTS = 5
"""Order script calls per request at most when the event or ticket type keeps changing."""


async def create_order(request: web.Request) -> web.Response:
    """One Redis call for most orders: the order script checks the idempotency record, then that
    the event and ticket type are what this process checked the sale against (cached), then
    quota, capacity and invite, and writes. A refusal from the cache is never trusted: the
    checks are repeated on a fresh read (which also answers a replay first)."""
    org_id, event_id = org_and_event(request)
    svc = services(request)
    key = idempotency_key(request)
    body = await read_body(request, "OrderCreate")
    fingerprint = _fingerprint(body)
    type_id: str = body["ticket_type_id"]
    store = svc.ticketing
    sale = store.cached_sale(org_id, event_id, type_id)
    fresh = False
    try:
        for _ in range(SALE_ATTEMPTS):
            if sale is None:
                # one round trip for the idempotency record, the event and the ticket type
                context = await store.order_context(org_id, event_id, key, type_id)
                if context.existing is not None:
                    if context.existing[0] != fingerprint:
                        raise ApiError(
                            422, "idempotency_key_reused", "this Idempotency-Key was used with another body"
                        )
                    return await _replay(svc, org_id, event_id, context.existing[1])
                sale = _sale_of(context.event_raw, context.type_raw)
                store.remember_sale(org_id, event_id, type_id, sale)
                fresh = True
            now = now_ms()
            try:
                _check_sale(sale, body, now)
            except ApiError:
                if fresh:
                    raise
                sale = None  # the cached copy may be out of date: read it again
                continue
            order, tickets = _new_order(svc, event_id, sale.ticket_type, body["quantity"], now)
            try:
                placed = await store.place_order(
                    org_id,
                    idempotency_key=key,
                    fingerprint=fingerprint,
                    order=order,
                    tickets=tickets,
                    buyer_name=body["buyer"]["name"],
                    buyer_email=body["buyer"]["email"],
                    invite_code=body.get("invite_code"),
                    created_ms=now,
                    pay_by_ms=None if order["pay_by"] is None else now + svc.pending_order_ttl_s * 1000,
                    expected=sale,
                )
            except StaleSaleContext as stale:
                store.remember_sale(org_id, event_id, type_id, None)
                sale = _sale_of(stale.event_raw, stale.type_raw)
                store.remember_sale(org_id, event_id, type_id, sale)
                fresh = True
                continue
            break
        else:
            raise ApiError(409, "conflict", "the event or ticket type kept changing; try again")
    except ApiError as exc:
        raise _refused(exc) from None
    if placed.replayed:
        return await _replay(svc, org_id, event_id, placed.order_id)
    metrics.ORDERS_CREATED.inc()
    if order["state"] == OrderState.PAID.value:
        metrics.TICKETS_SOLD.inc(order["quantity"])
    # just written by the script: the buyer is the request's (no need to read it back)
    codes = [{"id": t["id"], "code": make_code(svc.secret_key, org_id, TicketId(t["id"]))} for t in tickets]
    return json_response({"order": {**order, "buyer": dict(body["buyer"])}, "tickets": codes}, 201)


def _new_order(
    svc: Services, event_id: EventId, ticket_type: TicketTypeRecord, quantity: int, now: int
) -> tuple[OrderRecord, list[TicketRecord]]:
    order_id = OrderId(new_id("ord"))
    total = ticket_type["price_minor"] * quantity
    tickets: list[TicketRecord] = [
        {
            "id": new_id("tkt"),
            "event_id": event_id,
            "order_id": order_id,
            "ticket_type_id": ticket_type["id"],
            "participant_id": new_id("ptc"),
            "revoked": False,
        }
        for _ in range(quantity)
    ]
    order: OrderRecord = {
        "id": order_id,
        "event_id": event_id,
        "ticket_type_id": ticket_type["id"],
        "quantity": quantity,
        "state": (OrderState.PAID if total == 0 else OrderState.PENDING).value,
        "total_minor": total,
        "currency": ticket_type["currency"],
        "created_at": format_ms(now),
        "ticket_ids": [t["id"] for t in tickets],
        "pay_by": None if total == 0 else format_ms(now + svc.pending_order_ttl_s * 1000),
    }
    return order, tickets


async def _order_view(svc: Services, org_id: OrgId, order: OrderRecord) -> dict[str, Any]:
    buyer = await svc.ticketing.buyer(org_id, order["id"])
    if not buyer["email"]:  # erased (docs/privacy.md): the order is kept without its buyer
        return dict(order)
    return {**order, "buyer": buyer}


async def list_orders(request: web.Request) -> web.Response:
    actor = await require(request, Permission.ORDERS_READ)
    svc = services(request)
    event_id = EventId(path_id(request, "event_id"))
    await svc.venue.event(actor.org_id, event_id)
    orders = await svc.ticketing.orders(actor.org_id, event_id)
    return json_response({"items": [await _order_view(svc, actor.org_id, o) for o in orders]})


async def get_order(request: web.Request) -> web.Response:
    actor = await require(request, Permission.ORDERS_READ)
    svc = services(request)
    order = await svc.ticketing.order(
        actor.org_id, EventId(path_id(request, "event_id")), OrderId(path_id(request, "order_id"))
    )
    return json_response(await _order_view(svc, actor.org_id, order))


def _order_action(action: OrderAction) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        actor = await require(request, Permission.TICKETS_MANAGE)
        svc = services(request)
        order = await svc.ticketing.change_order(
            actor.org_id, EventId(path_id(request, "event_id")), OrderId(path_id(request, "order_id")), action
        )
        if action is OrderAction.PAY:
            metrics.TICKETS_SOLD.inc(order["quantity"])
        return json_response(await _order_view(svc, actor.org_id, order))

    return handler


async def _ticket_view(svc: Services, org_id: OrgId, ticket: TicketRecord) -> dict[str, Any]:
    order = await svc.ticketing.order(org_id, EventId(ticket["event_id"]), OrderId(ticket["order_id"]))
    return {
        "id": ticket["id"],
        "event_id": ticket["event_id"],
        "order_id": ticket["order_id"],
        "ticket_type_id": ticket["ticket_type_id"],
        "participant_id": ticket["participant_id"],
        "state": ticket_state(ticket, order),
        "checked_in_at": await svc.ticketing.checked_in_at(org_id, ticket["id"]),
    }


async def get_ticket(request: web.Request) -> web.Response:
    actor = await require(request, Permission.ORDERS_READ)
    svc = services(request)
    ticket = await svc.ticketing.ticket(
        actor.org_id, EventId(path_id(request, "event_id")), TicketId(path_id(request, "ticket_id"))
    )
    return json_response(await _ticket_view(svc, actor.org_id, ticket))


async def revoke_ticket(request: web.Request) -> web.Response:
    actor = await require(request, Permission.TICKETS_MANAGE)
    svc = services(request)
    ticket = await svc.ticketing.ticket(
        actor.org_id, EventId(path_id(request, "event_id")), TicketId(path_id(request, "ticket_id"))
    )
    updated = await svc.ticketing.revoke_ticket(actor.org_id, ticket)
    return json_response(await _ticket_view(svc, actor.org_id, updated))


async def check_in(request: web.Request) -> web.Response:
    actor = await require(request, Permission.CHECK_IN)
    svc = services(request)
    event_id = EventId(path_id(request, "event_id"))
    await svc.venue.event(actor.org_id, event_id)
    body = await read_body(request, "CheckInCreate")
    ticket_id = parse_code(svc.secret_key, actor.org_id, body["ticket_code"])
    if ticket_id is None:
        raise ApiError(422, "ticket_invalid", "unknown ticket code")
    try:
        ticket = await svc.ticketing.ticket(actor.org_id, event_id, ticket_id)
    except ApiError:
        raise ApiError(422, "ticket_invalid", "unknown ticket code") from None
    view = await _ticket_view(svc, actor.org_id, ticket)
    if view["state"] != "valid":
        raise ApiError(409, "ticket_invalid", f"the ticket is {view['state']}")
    at_ms = now_ms()
    if not await svc.ticketing.check_in(actor.org_id, event_id, ticket_id, at_ms):
        raise ApiError(409, "already_checked_in", f"checked in at {view['checked_in_at']}")
    return json_response({"ticket_id": ticket_id, "checked_in_at": format_ms(at_ms)}, 201)


async def list_check_ins(request: web.Request) -> web.Response:
    actor = await require(request, Permission.CHECK_IN)
    svc = services(request)
    event_id = EventId(path_id(request, "event_id"))
    await svc.venue.event(actor.org_id, event_id)
    return json_response({"items": await svc.ticketing.check_ins(actor.org_id, event_id)})


def add_routes(app: web.Application) -> None:
    evt = "/orgs/{org_id}/events/{event_id}"
    app.router.add_get(evt + "/ticket-types", list_ticket_types)
    app.router.add_post(evt + "/ticket-types", create_ticket_type)
    app.router.add_patch(evt + "/ticket-types/{ticket_type_id}", patch_ticket_type)
    app.router.add_post(evt + "/invites", create_invite)
    app.router.add_get(evt + "/orders", list_orders)
    app.router.add_post(evt + "/orders", create_order)
    app.router.add_get(evt + "/orders/{order_id}", get_order)
    for action in OrderAction:
        app.router.add_post(f"{evt}/orders/{{order_id}}/{action.value}", _order_action(action))
    app.router.add_get(evt + "/tickets/{ticket_id}", get_ticket)
    app.router.add_post(evt + "/tickets/{ticket_id}/revoke", revoke_ticket)
    app.router.add_get(evt + "/check-ins", list_check_ins)
    app.router.add_post(evt + "/check-ins", check_in)
