"""Store of ticket types, invite codes, orders, tickets and check-ins (the ticketing aggregate).

Layout, all in the organisation's hash slot (one Lua script may touch any of them):

- ``event:<id>:ticket-types`` — hash ticket type id -> JSON (everything but the counters)
- ``tt:<id>:inv`` — hash ``quota``, ``sold``: the inventory the order script guards
- ``invite:<sha256(code)>`` — hash ``ticket_type_id``, ``event_id``, ``max_uses``, ``uses``
- ``order:<id>`` — order JSON; ``event:<id>:orders`` — zset of order ids by creation time
- ``pii:order:<id>`` — hash buyer ``name`` and ``email`` (personal data, kept apart)
- ``ticket:<id>`` — ticket JSON (participant id, order, type; ``revoked``)
- ``checkin:<ticket id>`` — JSON, written once (SET NX); ``event:<id>:checkins`` — zset by time
- ``idem:<event id>:<key>`` — ``<sha256 of body>|<order id>``, kept 24 hours
- ``pending-orders`` — zset order id -> pay-by ms (unpaid orders, for the sweeper)
- ``revoked:ticket:<id>``, ``revoked:participant:<id>`` — see :mod:`control_api.revocation`

:data:`_PLACE_ORDER` is the only writer of ``sold`` upwards: it checks the idempotency record,
that the event and ticket type are still stored byte for byte as the caller checked the sale
against (:class:`SaleContext`, else :class:`StaleSaleContext` and nothing is written), the
invite, the ticket type's quota and the event's capacity (``event:<id>:capacity``, see
:func:`control_api.store.event_capacity_key`) and writes everything in one atomic step, so
neither a quota nor an event is ever oversold whatever the concurrency, and no order is made
from an outdated copy of the event or ticket type.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, TypedDict

import redis.asyncio as aioredis

from control_api.clock import format_ms, parse_ms
from control_api.ids import EventId, OrderId, OrgId, TicketId, TicketTypeId
from control_api.problems import ApiError
from control_api.revocation import announce, participant_key, ticket_key
from control_api.store import (
    CAS_ATTEMPTS,
    dumps,
    event_capacity_key,
    event_key,
    get_json,
    global_key,
    loads,
    org_key,
    text,
)

IDEMPOTENCY_TTL_S: Final = 24 * 3600
PENDING_ORDER_TTL_S: Final = 30 * 60
"""How long an unpaid order holds its tickets before the sweeper cancels it."""
ORGS_WITH_PENDING: Final = global_key("orgs-with-pending-orders")


def buyer_orgs_key(email: str) -> str:
    """Set of the organisations where this e-mail bought tickets (for a person's data export)."""
    return global_key("buyer-orgs", hashlib.sha256(email.strip().lower().encode()).hexdigest())


class OrderState(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class OrderAction(StrEnum):
    PAY = "pay"
    CANCEL = "cancel"
    REFUND = "refund"


ORDER_TRANSITIONS: Final[dict[OrderAction, tuple[frozenset[OrderState], OrderState]]] = {
    OrderAction.PAY: (frozenset({OrderState.PENDING}), OrderState.PAID),
    OrderAction.CANCEL: (frozenset({OrderState.PENDING, OrderState.PAID}), OrderState.CANCELLED),
    OrderAction.REFUND: (frozenset({OrderState.PAID}), OrderState.REFUNDED),
}


def next_order_state(current: OrderState, action: OrderAction) -> OrderState:
    sources, target = ORDER_TRANSITIONS[action]
    if current not in sources:
        raise ApiError(409, "invalid_transition", f"cannot {action.value} an order that is {current.value}")
    return target


class TicketTypeRecord(TypedDict):
    id: str
    event_id: str
    name: str
    price_minor: int
    currency: str
    sales_start: str
    sales_end: str
    per_order_max: int
    invite_only: bool
    role: str


class OrderRecord(TypedDict):
    id: str
    event_id: str
    ticket_type_id: str
    quantity: int
    state: str
    total_minor: int
    currency: str
    created_at: str
    ticket_ids: list[str]
    pay_by: str | None


class TicketRecord(TypedDict):
    id: str
    event_id: str
    order_id: str
    ticket_type_id: str
    participant_id: str
    revoked: bool


def ticket_state(ticket: TicketRecord, order: OrderRecord) -> str:
    """``valid`` only for a paid order's unrevoked ticket."""
    if ticket["revoked"]:
        return "revoked"
    return {"pending": "pending", "paid": "valid", "cancelled": "cancelled", "refunded": "refunded"}[
        order["state"]
    ]


_PLACE_ORDER: Final = """
-- KEYS: 1 idem, 2 type inventory, 3 order, 4 orders zset, 5 order pii,
--       6 invite (the key '...:no-invite' when none), 7 pending zset, 8 event capacity,
--       9 event, 10 event's ticket types, 11.. tickets
-- ARGV: 1 fingerprint, 2 order id, 3 order json, 4 created ms, 5 quantity, 6 idem ttl s,
--       7 buyer name, 8 buyer email, 9 ticket type id, 10 pay-by ms (0 when paid),
--       11 check ('1': the event and ticket type must be stored as ARGV 12 and 13, '0': no check),
--       12 event json, 13 ticket type json, 14.. one ticket json per ticket key
local existing = redis.call('GET', KEYS[1])
if existing then return {'replay', existing} end
if #ARGV - 13 ~= #KEYS - 10 then return {'bad_call'} end
if ARGV[11] == '1' then
  local event = redis.call('GET', KEYS[9])
  local ttype = redis.call('HGET', KEYS[10], ARGV[9])
  if event ~= ARGV[12] or ttype ~= ARGV[13] then return {'stale', event, ttype} end
end
local qty = tonumber(ARGV[5])
local inv = redis.call('HMGET', KEYS[2], 'quota', 'sold')
if not inv[1] then return {'not_found'} end
local cap = redis.call('HMGET', KEYS[8], 'capacity', 'sold')
if not cap[1] then return {'not_found'} end
local invite_used = false
if string.sub(KEYS[6], -10) ~= ':no-invite' then
  local inv_code = redis.call('HMGET', KEYS[6], 'ticket_type_id', 'max_uses', 'uses')
  if inv_code[1] ~= ARGV[9] then return {'invite_invalid'} end
  if tonumber(inv_code[3]) + qty > tonumber(inv_code[2]) then return {'invite_exhausted'} end
  invite_used = true
end
local left = tonumber(inv[1]) - tonumber(inv[2])
if qty > left then return {'sold_out', tostring(left)} end
local room = tonumber(cap[1]) - tonumber(cap[2] or '0')
if qty > room then return {'event_full', tostring(room)} end
redis.call('HINCRBY', KEYS[2], 'sold', qty)
redis.call('HINCRBY', KEYS[8], 'sold', qty)
if invite_used then redis.call('HINCRBY', KEYS[6], 'uses', qty) end
redis.call('SET', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[2])
redis.call('HSET', KEYS[5], 'name', ARGV[7], 'email', ARGV[8])
if tonumber(ARGV[10]) > 0 then redis.call('ZADD', KEYS[7], ARGV[10], ARGV[2]) end
for i = 11, #KEYS do redis.call('SET', KEYS[i], ARGV[14 + i - 11]) end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', tonumber(ARGV[6]))
return {'created', ARGV[2]}
"""

_ORDER_CONTEXT: Final = """
-- read only. KEYS: idem, event, event's ticket types; ARGV: ticket type id
return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]), redis.call('HGET', KEYS[3], ARGV[1])}
"""

_CHANGE_ORDER: Final = """
-- KEYS: order, type inventory, pending zset, event capacity, then revocation records to write
-- ARGV: the order json as read, the new order json, quantity to give back to the quota,
--       order id
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
local release = tonumber(ARGV[3])
if release > 0 then
  redis.call('HINCRBY', KEYS[2], 'sold', -release)
  redis.call('HINCRBY', KEYS[4], 'sold', -release)
end
redis.call('ZREM', KEYS[3], ARGV[4])
for i = 5, #KEYS do redis.call('SET', KEYS[i], '1') end
return 1
"""

_CHECK_IN: Final = """
-- KEYS: check-in record, event's check-in index; ARGV: record json, at ms, ticket id
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  return 1
end
return 0
"""

_SET_QUOTA: Final = """
-- KEYS: inventory; ARGV: new quota
local sold = tonumber(redis.call('HGET', KEYS[1], 'sold'))
if sold == nil then return -1 end
if tonumber(ARGV[1]) < sold then return -2 end
redis.call('HSET', KEYS[1], 'quota', ARGV[1])
return 1
"""


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """Outcome of :meth:`TicketingStore.place_order`: a new order, or the one a key already made."""

    order_id: OrderId
    replayed: bool


@dataclass(frozen=True, slots=True)
class OrderContext:
    """See :meth:`TicketingStore.order_context`: the idempotency record, the event JSON and the
    ticket type JSON as stored; ``None`` where the record does not exist."""

    existing: tuple[str, OrderId] | None
    event_raw: bytes | None
    type_raw: bytes | None


@dataclass(frozen=True, slots=True)
class SaleContext:
    """The event and ticket type a sale is checked against: the JSON exactly as stored (the
    order script compares it byte for byte with what is stored when it runs) and parsed."""

    event_raw: bytes
    type_raw: bytes
    event: dict[str, Any]
    ticket_type: TicketTypeRecord
    _sales_start_ms: int = field(repr=False)
    _sales_end_ms: int = field(repr=False)

    @classmethod
    def parse(cls, event_raw: bytes | str, type_raw: bytes | str) -> SaleContext:
        event_bytes = _as_bytes(event_raw)
        type_bytes = _as_bytes(type_raw)
        ticket_type: TicketTypeRecord = loads(type_bytes)
        return cls(
            event_bytes,
            type_bytes,
            loads(event_bytes),
            ticket_type,
            parse_ms(ticket_type["sales_start"]),
            parse_ms(ticket_type["sales_end"]),
        )

    def sales_open(self, now_ms: int) -> bool:
        """The sales window is ``[sales_start, sales_end)``."""
        return self._sales_start_ms <= now_ms < self._sales_end_ms


class StaleSaleContext(Exception):
    """The order script found the event or ticket type changed since the caller read them and
    wrote nothing; carries what is stored now (``None`` where it no longer exists)."""

    def __init__(self, event_raw: bytes | None, type_raw: bytes | None) -> None:
        super().__init__("the event or ticket type changed")
        self.event_raw = event_raw
        self.type_raw = type_raw


def _as_bytes(raw: bytes | str) -> bytes:
    return raw.encode() if isinstance(raw, str) else raw


def _optional_bytes(raw: object) -> bytes | None:
    if raw is None:
        return None
    if isinstance(raw, bytes):
        return raw
    return str(raw).encode()


SALE_CACHE_SIZE: Final = 1024
"""Sale contexts one process keeps at most (the oldest is dropped first)."""


def invite_key(org_id: OrgId, code: str) -> str:
    return org_key(org_id, "invite", hashlib.sha256(code.encode()).hexdigest()[:32])


class TicketingStore:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._place = redis.register_script(_PLACE_ORDER)
        self._change = redis.register_script(_CHANGE_ORDER)
        self._set_quota = redis.register_script(_SET_QUOTA)
        self._check_in = redis.register_script(_CHECK_IN)
        self._context = redis.register_script(_ORDER_CONTEXT)
        self._sales: dict[tuple[str, str, str], SaleContext] = {}

    # the per-process copy of what sales were last checked against (see docs/control-api-design.md)

    def cached_sale(self, org_id: OrgId, event_id: EventId, type_id: str) -> SaleContext | None:
        """The event and ticket type this process last read for a sale; may be out of date (the
        order script notices, see :meth:`place_order`)."""
        return self._sales.get((org_id, event_id, type_id))

    def remember_sale(self, org_id: OrgId, event_id: EventId, type_id: str, sale: SaleContext | None) -> None:
        """Keep ``sale`` as the copy for this ticket type (``None`` forgets it)."""
        key = (org_id, event_id, type_id)
        self._sales.pop(key, None)
        if sale is None:
            return
        self._sales[key] = sale
        if len(self._sales) > SALE_CACHE_SIZE:
            del self._sales[next(iter(self._sales))]

    # ticket types

    async def add_ticket_type(self, org_id: OrgId, record: TicketTypeRecord, quota: int) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(org_key(org_id, "tt", record["id"], "inv"), mapping={"quota": quota, "sold": 0})
        pipe.hset(org_key(org_id, "event", record["event_id"], "ticket-types"), record["id"], dumps(record))
        await pipe.execute()

    async def ticket_type(self, org_id: OrgId, event_id: EventId, type_id: TicketTypeId) -> TicketTypeRecord:
        raw = await self._redis.hget(org_key(org_id, "event", event_id, "ticket-types"), type_id)
        if raw is None:
            raise ApiError(404, "not_found", "no such ticket type")
        found: TicketTypeRecord = loads(raw)
        return found

    async def replace_ticket_type(self, org_id: OrgId, record: TicketTypeRecord) -> None:
        await self._redis.hset(
            org_key(org_id, "event", record["event_id"], "ticket-types"), record["id"], dumps(record)
        )

    async def ticket_types(self, org_id: OrgId, event_id: EventId) -> list[TicketTypeRecord]:
        raw = await self._redis.hgetall(org_key(org_id, "event", event_id, "ticket-types"))
        records: list[TicketTypeRecord] = [loads(v) for v in raw.values()]
        return sorted(records, key=lambda r: r["id"])

    async def event_sold(self, org_id: OrgId, event_id: str) -> int:
        return int(text(await self._redis.hget(event_capacity_key(org_id, event_id), "sold")) or 0)

    async def inventory(self, org_id: OrgId, type_id: str) -> tuple[int, int]:
        """(quota, sold) of a ticket type."""
        quota, sold = await self._redis.hmget(org_key(org_id, "tt", type_id, "inv"), ["quota", "sold"])
        return int(text(quota) or 0), int(text(sold) or 0)

    async def set_quota(self, org_id: OrgId, type_id: str, quota: int) -> None:
        result = await self._set_quota(keys=[org_key(org_id, "tt", type_id, "inv")], args=[quota])
        if result == -1:
            raise ApiError(404, "not_found", "no such ticket type")
        if result == -2:
            raise ApiError(409, "quota_below_sold")

    # invites

    async def add_invite(
        self, org_id: OrgId, event_id: EventId, code: str, type_id: str, max_uses: int
    ) -> None:
        await self._redis.hset(
            invite_key(org_id, code),
            mapping={"ticket_type_id": type_id, "event_id": event_id, "max_uses": max_uses, "uses": 0},
        )

    # orders

    async def idempotency_record(
        self, org_id: OrgId, event_id: EventId, key: str
    ) -> tuple[str, OrderId] | None:
        raw = text(await self._redis.get(org_key(org_id, "idem", event_id, key)))
        if raw is None:
            return None
        fingerprint, _, order_id = raw.partition("|")
        return fingerprint, OrderId(order_id)

    async def order_context(
        self, org_id: OrgId, event_id: EventId, idempotency_key: str, type_id: str
    ) -> OrderContext:
        """What placing an order reads first, in one round trip: the idempotency record, the
        event (JSON, owned by the venue store) and the ticket type."""
        keys = [
            org_key(org_id, "idem", event_id, idempotency_key),
            event_key(org_id, event_id),
            org_key(org_id, "event", event_id, "ticket-types"),
        ]
        # a read-only script: one command costs the client less than a pipeline of three
        idem_raw, event_raw, type_raw = await self._context(keys=keys, args=[type_id])
        idem = text(idem_raw)
        existing = None
        if idem is not None:
            fingerprint, _, order_id = idem.partition("|")
            existing = (fingerprint, OrderId(order_id))
        return OrderContext(existing, _optional_bytes(event_raw), _optional_bytes(type_raw))

    async def place_order(
        self,
        org_id: OrgId,
        *,
        idempotency_key: str,
        fingerprint: str,
        order: OrderRecord,
        tickets: list[TicketRecord],
        buyer_name: str,
        buyer_email: str,
        invite_code: str | None,
        created_ms: int,
        pay_by_ms: int | None,
        expected: SaleContext | None = None,
    ) -> PlacedOrder:
        """Reserve quota and write the order atomically; refusals raise :class:`ApiError`.

        With ``expected``, the order is written only if the event and ticket type are still
        stored exactly as in it; otherwise nothing is written and :class:`StaleSaleContext`
        carries what is stored now. A replay of the idempotency key is answered before that.
        """
        event_id = order["event_id"]
        keys = [
            org_key(org_id, "idem", event_id, idempotency_key),
            org_key(org_id, "tt", order["ticket_type_id"], "inv"),
            org_key(org_id, "order", order["id"]),
            org_key(org_id, "event", event_id, "orders"),
            org_key(org_id, "pii", "order", order["id"]),
            invite_key(org_id, invite_code) if invite_code else org_key(org_id, "no-invite"),
            org_key(org_id, "pending-orders"),
            event_capacity_key(org_id, event_id),
            event_key(org_id, event_id),
            org_key(org_id, "event", event_id, "ticket-types"),
            *(org_key(org_id, "ticket", t["id"]) for t in tickets),
        ]
        args: list[str | bytes | int] = [
            fingerprint,
            order["id"],
            dumps(order),
            created_ms,
            order["quantity"],
            IDEMPOTENCY_TTL_S,
            buyer_name,
            buyer_email,
            order["ticket_type_id"],
            pay_by_ms or 0,
            "0" if expected is None else "1",
            b"" if expected is None else expected.event_raw,
            b"" if expected is None else expected.type_raw,
            *(dumps(t) for t in tickets),
        ]
        result = await self._place(keys=keys, args=args)
        outcome = text(result[0])
        if outcome == "created":
            if pay_by_ms:
                pipe = self._redis.pipeline(transaction=False)  # two global keys, one round trip
                pipe.sadd(buyer_orgs_key(buyer_email), org_id)
                pipe.sadd(ORGS_WITH_PENDING, org_id)
                await pipe.execute()
            else:
                await self._redis.sadd(buyer_orgs_key(buyer_email), org_id)
            return PlacedOrder(OrderId(order["id"]), replayed=False)
        if outcome == "stale":
            raise StaleSaleContext(_optional_bytes(result[1]), _optional_bytes(result[2]))
        if outcome == "replay":
            stored_fingerprint, _, order_id = (text(result[1]) or "").partition("|")
            if stored_fingerprint != fingerprint:
                raise ApiError(
                    422, "idempotency_key_reused", "this Idempotency-Key was used with another body"
                )
            return PlacedOrder(OrderId(order_id), replayed=True)
        if outcome == "sold_out":
            raise ApiError(409, "sold_out", f"{text(result[1])} tickets of this type left")
        if outcome == "event_full":
            raise ApiError(409, "event_full", f"{text(result[1])} places left in the event")
        if outcome == "invite_invalid":
            raise ApiError(422, "invite_invalid")
        if outcome == "invite_exhausted":
            raise ApiError(409, "invite_exhausted")
        if outcome == "not_found":
            raise ApiError(404, "not_found", "no such ticket type or event")
        raise RuntimeError(f"order script answered {result!r}")

    async def order(self, org_id: OrgId, event_id: EventId, order_id: OrderId) -> OrderRecord:
        found: OrderRecord | None = await get_json(self._redis, org_key(org_id, "order", order_id))
        if found is None or found["event_id"] != event_id:
            raise ApiError(404, "not_found", "no such order")
        return found

    async def orders(self, org_id: OrgId, event_id: EventId) -> list[OrderRecord]:
        ids = [
            text(i) or ""
            for i in await self._redis.zrange(org_key(org_id, "event", event_id, "orders"), 0, -1)
        ]
        if not ids:
            return []
        raws = await self._redis.mget([org_key(org_id, "order", i) for i in ids])
        return [loads(raw) for raw in raws if raw is not None]

    async def buyer(self, org_id: OrgId, order_id: str) -> dict[str, str]:
        name, email = await self._redis.hmget(org_key(org_id, "pii", "order", order_id), ["name", "email"])
        return {"name": text(name) or "", "email": text(email) or ""}

    async def change_order(
        self, org_id: OrgId, event_id: EventId, order_id: OrderId, action: OrderAction
    ) -> OrderRecord:
        """Move an order along its lifecycle; cancelling or refunding frees quota and revokes tickets."""
        key = org_key(org_id, "order", order_id)
        for _ in range(CAS_ATTEMPTS):
            raw = await self._redis.get(key)
            if raw is None:
                raise ApiError(404, "not_found", "no such order")
            order: OrderRecord = loads(raw)
            if order["event_id"] != event_id:
                raise ApiError(404, "not_found", "no such order")
            new_state = next_order_state(OrderState(order["state"]), action)
            updated: OrderRecord = {**order, "state": new_state.value, "pay_by": None}
            release = order["quantity"] if new_state in (OrderState.CANCELLED, OrderState.REFUNDED) else 0
            revocations: list[str] = []
            tickets: list[TicketRecord] = []
            if release:
                tickets = await self.tickets(org_id, order["ticket_ids"])
                revocations = [ticket_key(org_id, t["id"]) for t in tickets]
                revocations += [participant_key(org_id, t["participant_id"]) for t in tickets]
            keys = [
                key,
                org_key(org_id, "tt", order["ticket_type_id"], "inv"),
                org_key(org_id, "pending-orders"),
                event_capacity_key(org_id, event_id),
                *revocations,
            ]
            if await self._change(keys=keys, args=[raw, dumps(updated), release, order_id]) == 1:
                if tickets:
                    await announce(
                        self._redis,
                        org_id,
                        tickets=[t["id"] for t in tickets],
                        participants=[t["participant_id"] for t in tickets],
                    )
                return updated
        raise ApiError(409, "conflict", "the order changed while updating it; try again")

    async def expire_pending(self, now_ms: int, *, batch: int = 100) -> int:
        """Cancel every unpaid order whose pay-by time has passed; returns how many."""
        expired = 0
        async for raw_org in self._redis.sscan_iter(ORGS_WITH_PENDING):
            org_id = OrgId(text(raw_org) or "")
            pending_key = org_key(org_id, "pending-orders")
            due = await self._redis.zrangebyscore(pending_key, "-inf", now_ms, start=0, num=batch)
            for raw_id in due:
                order_id = OrderId(text(raw_id) or "")
                order: OrderRecord | None = await get_json(self._redis, org_key(org_id, "order", order_id))
                if order is None or order["state"] != OrderState.PENDING.value:
                    await self._redis.zrem(pending_key, order_id)
                    continue
                try:
                    await self.change_order(org_id, EventId(order["event_id"]), order_id, OrderAction.CANCEL)
                except ApiError:
                    continue  # paid or cancelled meanwhile: the change removed it from the zset
                expired += 1
        return expired

    # tickets and check-ins

    async def tickets(self, org_id: OrgId, ticket_ids: list[str]) -> list[TicketRecord]:
        if not ticket_ids:
            return []
        raws = await self._redis.mget([org_key(org_id, "ticket", t) for t in ticket_ids])
        return [loads(raw) for raw in raws if raw is not None]

    async def ticket(self, org_id: OrgId, event_id: EventId, ticket_id: TicketId) -> TicketRecord:
        found: TicketRecord | None = await get_json(self._redis, org_key(org_id, "ticket", ticket_id))
        if found is None or found["event_id"] != event_id:
            raise ApiError(404, "not_found", "no such ticket")
        return found

    async def revoke_ticket(self, org_id: OrgId, ticket: TicketRecord) -> TicketRecord:
        updated: TicketRecord = {**ticket, "revoked": True}
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(org_key(org_id, "ticket", ticket["id"]), dumps(updated))
        pipe.set(ticket_key(org_id, ticket["id"]), "1")
        pipe.set(participant_key(org_id, ticket["participant_id"]), "1")
        await pipe.execute()
        await announce(self._redis, org_id, tickets=[ticket["id"]], participants=[ticket["participant_id"]])
        return updated

    async def check_in(self, org_id: OrgId, event_id: EventId, ticket_id: str, at_ms: int) -> bool:
        """Record the check-in once (and index it); False when the ticket was checked in before."""
        record = dumps({"at": format_ms(at_ms)})
        keys = [org_key(org_id, "checkin", ticket_id), org_key(org_id, "event", event_id, "checkins")]
        return bool(await self._check_in(keys=keys, args=[record, at_ms, ticket_id]))

    async def check_ins(self, org_id: OrgId, event_id: EventId) -> list[dict[str, str]]:
        """Every check-in of the event, in check-in order."""
        ids = [
            text(i) or ""
            for i in await self._redis.zrange(org_key(org_id, "event", event_id, "checkins"), 0, -1)
        ]
        if not ids:
            return []
        raws = await self._redis.mget([org_key(org_id, "checkin", i) for i in ids])
        return [
            {"ticket_id": i, "checked_in_at": loads(raw)["at"]}
            for i, raw in zip(ids, raws, strict=True)
            if raw is not None
        ]

    async def checked_in_at(self, org_id: OrgId, ticket_id: str) -> str | None:
        found: dict[str, Any] | None = await get_json(self._redis, org_key(org_id, "checkin", ticket_id))
        return None if found is None else str(found["at"])
