"""The ticket-sale load test (loadtest/tickets.py) against the real API: it sells exactly the
quota and reports no oversell."""

from __future__ import annotations

import os

from aiohttp.test_utils import TestServer

from loadtest.tickets import run


async def test_load_test_sells_exactly_the_quota(server: TestServer) -> None:
    # the server runs in this process: its CPU is this process's
    summary = await run(
        str(server.make_url("/")), orders=300, quota=50, concurrency=50, server_pid=os.getpid()
    )
    assert (summary["created"], summary["refused"], summary["errors"]) == (50, 250, 0)
    assert (summary["sold"], summary["quota"], summary["oversold"]) == (50, 50, 0)
    assert summary["orders_per_s"] > 0 and summary["p99_ms"] >= summary["p50_ms"] > 0
    assert summary["server_cpu_s"] > 0 and summary["orders_per_server_cpu_s"] > 0
