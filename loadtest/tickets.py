"""Ticket-sale load test: buyers race for a quota over HTTP; nothing may be oversold.

Speaks only the public HTTP API (imports nothing of the server). It provisions a throw-away
organisation with :func:`loadtest.provision.provision` (a published event with one free ticket
type of ``--quota`` tickets), then fires ``--orders`` single-ticket orders (each with its own Idempotency-Key)
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
import time
import uuid
from typing import Any

import aiohttp

from loadtest.provision import expect, provision
from loadtest.stats import percentile, print_summary, process_cpu_s

DESCRIPTION = "Ticket-sale load test: buyers race for a quota over HTTP; nothing may be oversold."


async def run(
    base_url: str, *, orders: int, quota: int, concurrency: int, server_pid: int | None = None
) -> dict[str, Any]:
    """Run the scenario against the server at ``base_url``; returns the summary.

    With ``server_pid`` (the server's process on this machine), the summary also has the CPU
    seconds the server spent during the run, a figure other load on the machine barely moves.
    """
    venue = await provision(base_url, ["Loadtest"], [], on_sale=quota)
    event_path, type_id = venue.event_base, venue.ticket_type_id
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

        cpu_before_s = process_cpu_s(server_pid) if server_pid else 0.0
        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(orders)))
        elapsed_s = time.perf_counter() - started
        server_cpu_s = process_cpu_s(server_pid) - cpu_before_s if server_pid else None

        # public while the event is on sale: the server's own count of tickets sold
        async with buyers.get(f"{event_path}/ticket-types") as resp:
            sold = int((await expect(resp, 200))["items"][0]["sold"])
    extra: dict[str, Any] = {}
    if server_cpu_s is not None:
        extra = {
            "server_cpu_s": round(server_cpu_s, 2),
            "orders_per_server_cpu_s": round(orders / server_cpu_s, 1) if server_cpu_s > 0 else 0.0,
        }
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
        **extra,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest tickets", description=DESCRIPTION)
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="base URL of a running VenueKit")
    parser.add_argument("--orders", type=int, default=2000, help="orders to fire (one ticket each)")
    parser.add_argument("--quota", type=int, default=500, help="tickets on sale")
    parser.add_argument("--concurrency", type=int, default=100, help="orders in flight at once")
    parser.add_argument(
        "--server-pid", type=int, default=None, help="the server's pid: also report its CPU seconds"
    )
    args = parser.parse_args(argv)
    summary = asyncio.run(
        run(
            args.url,
            orders=args.orders,
            quota=args.quota,
            concurrency=args.concurrency,
            server_pid=args.server_pid,
        )
    )
    print_summary(summary)
    return 0 if summary["oversold"] == 0 and summary["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
