"""Ticket-sale load test: buyers race for a quota over HTTP; nothing may be oversold.

Speaks only the public HTTP API (imports nothing of the server). It signs up a throw-away
organisation, creates and publishes an event with one free ticket type of ``--quota``
tickets, then fires ``--orders`` single-ticket orders (each with its own Idempotency-Key)
with ``--concurrency`` in flight, and prints one JSON line::

    {"scenario": "tickets", "orders": ..., "orders_per_s": ..., "p50_ms": ..., "p99_ms": ...,
     "created": ..., "refused": ..., "errors": ..., "sold": ..., "quota": ..., "oversold": ...}

``oversold`` counts tickets beyond the quota as seen by the buyers *and* by the server's own
``sold`` counter; anything but 0 is a bug. Usage::

    python -m loadtest tickets --url http://127.0.0.1:8080 --orders 2000 --quota 500
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
import uuid
from typing import Any

import aiohttp

from loadtest.stats import percentile, print_summary

API = "/api/v1"
DESCRIPTION = "Ticket-sale load test: buyers race for a quota over HTTP; nothing may be oversold."


class LoadTestError(RuntimeError):
    """The set-up calls failed; the message names the call and the server's answer."""


async def _expect(resp: aiohttp.ClientResponse, status: int, what: str) -> Any:
    body = await resp.json(content_type=None)
    if resp.status != status:
        raise LoadTestError(f"{what}: HTTP {resp.status} {body}")
    return body


async def _set_up(session: aiohttp.ClientSession, base: str, quota: int) -> tuple[str, str, dict[str, str]]:
    """A new organisation, signed in, with a published event selling ``quota`` free tickets."""
    email = f"loadtest-{secrets.token_hex(6)}@example.com"
    password = secrets.token_urlsafe(18)
    owner = {"email": email, "password": password, "name": "Load Test"}
    async with session.post(f"{base}{API}/orgs", json={"name": "Load test", "owner": owner}) as resp:
        org_id = (await _expect(resp, 201, "sign-up"))["org"]["id"]
    async with session.post(f"{base}{API}/sessions", json={"email": email, "password": password}) as resp:
        headers = {"X-CSRF-Token": (await _expect(resp, 201, "login"))["csrf_token"]}
    event = {
        "title": "Load test",
        "time_zone": "UTC",
        "starts_at": "2030-01-01T09:00:00Z",
        "ends_at": "2030-01-01T18:00:00Z",
        "capacity": max(quota, 1),
    }
    async with session.post(f"{base}{API}/orgs/{org_id}/events", json=event, headers=headers) as resp:
        event_id = (await _expect(resp, 201, "create event"))["id"]
    event_path = f"{base}{API}/orgs/{org_id}/events/{event_id}"
    async with session.post(f"{event_path}/publish", headers=headers) as resp:
        await _expect(resp, 200, "publish")
    ticket_type = {
        "name": "General",
        "price_minor": 0,
        "currency": "EUR",
        "quota": quota,
        "sales_start": "2000-01-01T00:00:00Z",
        "sales_end": "2100-01-01T00:00:00Z",
        "per_order_max": 1,
    }
    async with session.post(f"{event_path}/ticket-types", json=ticket_type, headers=headers) as resp:
        type_id = (await _expect(resp, 201, "create ticket type"))["id"]
    return event_path, type_id, headers


async def run(base_url: str, *, orders: int, quota: int, concurrency: int) -> dict[str, Any]:
    """Run the scenario against the server at ``base_url``; returns the summary."""
    base = base_url.rstrip("/")
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as organiser:
        event_path, type_id, _ = await _set_up(organiser, base, quota)
        connector = aiohttp.TCPConnector(limit=concurrency)
        latencies_ms: list[float] = []
        outcomes = {"created": 0, "refused": 0, "errors": 0}
        gate = asyncio.Semaphore(concurrency)

        async with aiohttp.ClientSession(connector=connector) as buyers:

            async def one(i: int) -> None:
                body = {
                    "ticket_type_id": type_id,
                    "quantity": 1,
                    "buyer": {"name": f"Buyer {i}", "email": f"buyer{i}@example.com"},
                }
                async with gate:
                    started = time.perf_counter()
                    try:
                        async with buyers.post(
                            f"{event_path}/orders", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
                        ) as resp:
                            answer = await resp.json(content_type=None)
                            status = resp.status
                    except aiohttp.ClientError:
                        outcomes["errors"] += 1
                        return
                    latencies_ms.append((time.perf_counter() - started) * 1000)
                if status == 201:
                    outcomes["created"] += 1
                elif status == 409 and isinstance(answer, dict) and answer.get("code") == "sold_out":
                    outcomes["refused"] += 1
                else:
                    outcomes["errors"] += 1

            started = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(orders)))
            elapsed_s = time.perf_counter() - started

        async with organiser.get(f"{event_path}/ticket-types") as resp:
            sold = int((await _expect(resp, 200, "read ticket types"))["items"][0]["sold"])
    return {
        "scenario": "tickets",
        "orders": orders,
        "concurrency": concurrency,
        "orders_per_s": round(orders / elapsed_s, 1) if elapsed_s > 0 else 0.0,
        "p50_ms": round(percentile(latencies_ms, 50), 2),
        "p99_ms": round(percentile(latencies_ms, 99), 2),
        **outcomes,
        "sold": sold,
        "quota": quota,
        "oversold": max(0, outcomes["created"] - quota, sold - quota),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest tickets", description=DESCRIPTION)
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="base URL of a running VenueKit")
    parser.add_argument("--orders", type=int, default=2000, help="orders to fire (one ticket each)")
    parser.add_argument("--quota", type=int, default=500, help="tickets on sale")
    parser.add_argument("--concurrency", type=int, default=100, help="orders in flight at once")
    args = parser.parse_args(argv)
    summary = asyncio.run(run(args.url, orders=args.orders, quota=args.quota, concurrency=args.concurrency))
    print_summary(summary)
    return 0 if summary["oversold"] == 0 and summary["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
