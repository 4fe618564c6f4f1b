"""``/healthz``, ``/readyz`` and ``/metrics`` for every role, plus HTTP request metrics.

``/healthz`` answers while the process serves requests. ``/readyz`` runs every registered
readiness check (each with a deadline) and answers 503 naming what failed. ``/metrics`` is the
Prometheus exposition of the default registry: ``venuekit_*`` metrics and process metrics.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, Info, generate_latest

from venuekit import __version__

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]
"""Raises (any exception) when the dependency is not usable; its message is shown."""

CHECK_TIMEOUT_S: Final = 2.0

BUILD_INFO = Info("venuekit_build", "VenueKit version and the role this process runs")
HTTP_REQUESTS = Counter("venuekit_http_requests_total", "HTTP requests served", ["role", "route", "status"])
HTTP_LATENCY = Histogram(
    "venuekit_http_request_duration_seconds", "HTTP request handling time", ["role", "route"]
)
DEPENDENCY_UP = Gauge(
    "venuekit_dependency_up", "1 when the last readiness check of a dependency passed", ["dependency"]
)
READINESS_CHECKS_KEY: Final[web.AppKey[dict[str, ReadinessCheck]]] = web.AppKey("readiness_checks")


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def metrics_middleware(role: str) -> Middleware:
    # bounded: routes are the application's (unmatched paths share one name), statuses few
    requests: dict[tuple[str, int], Any] = {}
    latencies: dict[str, Any] = {}

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            route = _route_name(request)
            counted = requests.get((route, status))
            if counted is None:  # labels() locks and checks every call: keep the children
                counted = requests[(route, status)] = HTTP_REQUESTS.labels(role, route, str(status))
            counted.inc()
            timed = latencies.get(route)
            if timed is None:
                timed = latencies[route] = HTTP_LATENCY.labels(role, route)
            timed.observe(time.perf_counter() - started)

    return middleware


async def run_checks(checks: Mapping[str, ReadinessCheck]) -> dict[str, str]:
    """Run every check concurrently; map name -> "ok" or the failure's message."""

    async def one(name: str, check: ReadinessCheck) -> tuple[str, str]:
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
        except TimeoutError:
            result = f"no answer within {CHECK_TIMEOUT_S:.0f}s"
        except Exception as exc:  # any failure means "not ready"
            result = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            result = "ok"
        DEPENDENCY_UP.labels(name).set(1 if result == "ok" else 0)
        return name, result

    results = await asyncio.gather(*(one(n, c) for n, c in checks.items()))
    return dict(results)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks = request.app[READINESS_CHECKS_KEY]
    results = await run_checks(checks)
    ready = all(r == "ok" for r in results.values())
    if not ready:
        log.warning("not ready: %s", {n: r for n, r in results.items() if r != "ok"})
    return web.json_response(
        {"status": "ready" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )


async def metrics(_request: web.Request) -> web.Response:
    body = generate_latest()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def install(app: web.Application, role: str, checks: Mapping[str, ReadinessCheck]) -> None:
    """Add the three endpoints and the request metrics to ``app``."""
    BUILD_INFO.info({"version": __version__, "role": role})
    registered: dict[str, ReadinessCheck] = dict(checks)
    app[READINESS_CHECKS_KEY] = registered
    app.middlewares.append(metrics_middleware(role))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
