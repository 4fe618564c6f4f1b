"""Set up what a benchmark needs through the public HTTP API, as an organiser and ticket buyers would.

An organisation (open sign-up), an event with spaces, organiser join tokens, and attendee join
tokens bought as free tickets and exchanged one by one. Nothing here imports server code.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import secrets
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp

T = TypeVar("T")
PASSWORD = secrets.token_urlsafe(18)  # throw-away accounts on a server of our own
EVENT = {
    "title": "Hack Week",
    "description": "Three days of building.",
    "time_zone": "Europe/Berlin",
    "starts_at": "2030-05-01T09:00:00+02:00",
    "ends_at": "2030-05-03T18:00:00+02:00",
    "capacity": 100_000,
}
TICKETS_PER_ORDER = 100


class ProvisionError(RuntimeError):
    """The API refused a set-up step."""


async def expect(resp: aiohttp.ClientResponse, status: int) -> Any:
    body = await resp.json(content_type=None)
    if resp.status != status:
        raise ProvisionError(f"{resp.method} {resp.url.path}: {resp.status} {body}")
    return body


@dataclass
class Provisioned:
    api: str
    org_id: str
    event_id: str
    csrf: dict[str, str]
    spaces: dict[str, str] = field(default_factory=dict)
    """space name -> id"""
    tokens: dict[str, str] = field(default_factory=dict)
    """organiser name -> join token"""
    attendees: list[str] = field(default_factory=list)
    """attendee join tokens, one per free ticket"""
    ticket_codes: list[str] = field(default_factory=list)
    """the attendees' ticket codes (a code can be exchanged for a fresh token at any time)"""
    teams: dict[str, str] = field(default_factory=dict)
    """team name -> id"""
    owner_email: str = ""
    ticket_type_id: str = ""
    """the free ticket type (with ``attendees`` or ``on_sale``)"""
    password: str = PASSWORD

    @property
    def event_base(self) -> str:
        return f"{self.api}/orgs/{self.org_id}/events/{self.event_id}"


def cookie_session() -> aiohttp.ClientSession:
    # the API's session cookie is set for 127.0.0.1, which aiohttp's default jar refuses
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def provision(
    base_url: str,
    organisers: list[str],
    spaces: list[dict[str, Any]],
    *,
    org_name: str | None = None,
    attendees: int = 0,
    concurrency: int = 32,
    teams: dict[str, list[int]] | None = None,
    names: list[str] | None = None,
    on_sale: int = 0,
    agenda: list[dict[str, Any]] | None = None,
) -> Provisioned:
    """An org whose owner is ``organisers[0]``; the others join as organisers. Each gets a token.

    With ``attendees``, the event is published and that many free tickets are bought and
    exchanged for attendee join tokens. ``teams`` maps a team name to the attendees (indexes) in
    it; the first one creates it and is its captain. With ``on_sale``, the event is published
    with one free ticket type of that many tickets left to sell (``Provisioned.ticket_type_id``).
    ``agenda`` items are agenda sessions whose ``space`` names one of ``spaces`` (a stage).
    """
    api = base_url.rstrip("/") + "/api/v1"
    org_name = org_name or f"Org {uuid.uuid4().hex[:8]}"
    domain = org_name.lower().replace(" ", "-")
    async with cookie_session() as owner:
        email = f"{organisers[0].lower()}@{domain}.test"
        signup = {"name": org_name, "owner": {"email": email, "password": PASSWORD, "name": organisers[0]}}
        org_id = (await expect(await owner.post(api + "/orgs", json=signup), 201))["org"]["id"]
        login = {"email": email, "password": PASSWORD}
        csrf = {
            "X-CSRF-Token": (await expect(await owner.post(api + "/sessions", json=login), 201))["csrf_token"]
        }
        event = await expect(await owner.post(api + f"/orgs/{org_id}/events", json=EVENT, headers=csrf), 201)
        result = Provisioned(api, org_id, event["id"], csrf, owner_email=email)
        for space in spaces:
            made = await expect(
                await owner.post(result.event_base + "/spaces", json=space, headers=csrf), 201
            )
            result.spaces[space["name"]] = made["id"]
        for item in agenda or []:
            session = {
                **{k: v for k, v in item.items() if k != "space"},
                "space_id": result.spaces[item["space"]],
            }
            await expect(await owner.post(result.event_base + "/agenda", json=session, headers=csrf), 201)
        if attendees or on_sale:
            await expect(await owner.post(result.event_base + "/publish", headers=csrf), 200)
            type_id = await _ticket_type(owner, result, attendees + on_sale)
            result.ticket_type_id = type_id
        if attendees:
            result.ticket_codes = await _buy(result, type_id, attendees)
            for team, members in (teams or {}).items():
                result.teams[team] = await _form_team(result, team, [result.ticket_codes[i] for i in members])
            result.attendees = await _exchange(result, result.ticket_codes, concurrency, names)
        issued = await expect(await owner.post(result.event_base + "/join-tokens", headers=csrf), 201)
        result.tokens[organisers[0]] = issued["token"]
        for name in organisers[1:]:
            member_email = f"{name.lower()}@{domain}.test"
            member = {"email": member_email, "name": name, "role": "organiser", "password": PASSWORD}
            await expect(await owner.post(api + f"/orgs/{org_id}/members", json=member, headers=csrf), 201)
            async with cookie_session() as other:
                body = {"email": member_email, "password": PASSWORD}
                theirs = await expect(await other.post(api + "/sessions", json=body), 201)
                reply = await other.post(
                    result.event_base + "/join-tokens", headers={"X-CSRF-Token": theirs["csrf_token"]}
                )
                result.tokens[name] = (await expect(reply, 201))["token"]
    return result


async def _ticket_type(owner: aiohttp.ClientSession, venue: Provisioned, quota: int) -> str:
    ticket_type = {
        "name": "Free",
        "price_minor": 0,
        "currency": "EUR",
        "quota": quota,
        "sales_start": "2020-01-01T00:00:00Z",
        "sales_end": "2099-01-01T00:00:00Z",
        "per_order_max": TICKETS_PER_ORDER,
    }
    made = await owner.post(venue.event_base + "/ticket-types", json=ticket_type, headers=venue.csrf)
    return str((await expect(made, 201))["id"])


async def _buy(venue: Provisioned, type_id: str, count: int) -> list[str]:
    """Buy ``count`` free tickets in orders; their codes."""
    codes: list[str] = []
    async with aiohttp.ClientSession() as public:
        remaining = count
        while remaining:
            quantity = min(TICKETS_PER_ORDER, remaining)
            body = {
                "ticket_type_id": type_id,
                "quantity": quantity,
                "buyer": {"name": "Guest", "email": "guest@example.com"},
            }
            reply = await public.post(
                venue.event_base + "/orders", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
            )
            codes += [t["code"] for t in (await expect(reply, 201))["tickets"]]
            remaining -= quantity
    return codes


async def _form_team(venue: Provisioned, name: str, codes: list[str]) -> str:
    async with aiohttp.ClientSession() as public:
        captain = {"Authorization": f"Ticket {codes[0]}"}
        made = await expect(
            await public.post(venue.event_base + "/teams", json={"name": name}, headers=captain), 201
        )
        for code in codes[1:]:
            url = f"{venue.event_base}/teams/{made['id']}/members"
            await expect(await public.post(url, headers={"Authorization": f"Ticket {code}"}), 200)
    return str(made["id"])


async def _exchange(
    venue: Provisioned, codes: list[str], concurrency: int, names: list[str] | None = None
) -> list[str]:
    """Exchange each ticket code for a join token (shown under ``names[i]`` when given)."""
    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as public:

        async def exchange(index: int, code: str) -> str:
            async with gate:
                headers = {"Authorization": f"Ticket {code}"}
                body = {"display_name": names[index]} if names and index < len(names) else {}
                reply = await public.post(venue.event_base + "/join-tokens", json=body, headers=headers)
                return str((await expect(reply, 201))["token"])

        return list(await asyncio.gather(*(exchange(i, code) for i, code in enumerate(codes))))


def run_sync(coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even where another event loop is running."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coro_fn())).result()
