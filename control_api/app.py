"""Build the control API application (mounted by venuekit at ``/api/v1``) and seed a demo org."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Final

import redis.asyncio as aioredis
import redis.exceptions
from aiohttp import web
from aiohttp.typedefs import Middleware
from argon2 import PasswordHasher

from control_api import (
    http_accounts,
    http_attendance,
    http_billing,
    http_privacy,
    http_sso,
    http_tickets,
    http_tokens,
    http_venue,
)
from control_api.accounts import AccountStore, OrgRecord
from control_api.api_keys import ApiKeyStore
from control_api.clock import now_ms
from control_api.context import SERVICES, AttendanceSource, Services
from control_api.ids import OrgId, UserId
from control_api.keyring import ROTATE_AFTER_S, Keyring
from control_api.login_limit import Limits, LoginLimiter
from control_api.oidc import Providers
from control_api.passwords import Passwords
from control_api.privacy import PersonalDataHolder, PrivacyService
from control_api.problems import problem_middleware
from control_api.sessions import SessionStore
from control_api.sso import SsoStore
from control_api.ticketing import PENDING_ORDER_TTL_S, TicketingStore
from control_api.venue import VenueStore

log = logging.getLogger(__name__)

MAX_CONCURRENT_REQUESTS: Final = 64
SWEEP_INTERVAL_S: Final = 15.0


async def _sweep_forever(ticketing: TicketingStore, interval_s: float) -> None:
    while True:
        try:
            expired = await ticketing.expire_pending(now_ms())
            if expired:
                log.info("cancelled %d unpaid orders past their pay-by time", expired)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            log.warning("pending-order sweep skipped: Redis unavailable (%s)", exc)
        except Exception:
            log.exception("pending-order sweep failed")
        await asyncio.sleep(interval_s)


def _sweeper(
    ticketing: TicketingStore, interval_s: float
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_sweep_forever(ticketing, interval_s), name="control_api.pending_orders")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx


def admission_middleware(limit: int) -> Middleware:
    """Let at most ``limit`` requests run at once; the rest wait their turn (backpressure)."""
    gate = asyncio.Semaphore(limit)

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        async with gate:
            return await handler(request)

    return middleware


def create_app(
    redis: aioredis.Redis,
    *,
    secret_key: str,
    cookie_secure: bool = True,
    open_signup: bool = True,
    password_hasher: PasswordHasher | None = None,
    login_limits: Limits | None = None,
    key_rotate_after_s: int = ROTATE_AFTER_S,
    max_concurrent_requests: int = MAX_CONCURRENT_REQUESTS,
    pending_order_ttl_s: int = PENDING_ORDER_TTL_S,
    sweep_interval_s: float | None = SWEEP_INTERVAL_S,
    attendance: AttendanceSource | None = None,
    analytics: http_billing.AnalyticsSource | None = None,
    personal_data: Sequence[PersonalDataHolder] = (),
) -> web.Application:
    """The API as an aiohttp sub-application; routes are relative (``/orgs``, ...).

    ``redis`` is owned by the caller (opened and closed by the composition root).
    ``password_hasher`` lets tests use cheap argon2 parameters. ``max_concurrent_requests``
    bounds the requests in progress (each holds at most one Redis connection at a time), so
    a burst waits instead of exhausting the Redis client's connection pool (100 by default).
    Unpaid orders are cancelled ``pending_order_ttl_s`` after creation by a sweeper task that
    the application owns (started and cancelled with it; ``sweep_interval_s=None``: no task).
    ``attendance`` serves ``GET .../attendance`` (without it that route answers 503);
    ``analytics`` serves billing and engagement (likewise).
    ``personal_data``: the other packages' holders of personal data (chat, analytics), reached
    by the access export and by erasure (docs/privacy.md).
    """
    if len(secret_key) < 32:
        raise ValueError("secret_key must have at least 32 characters")
    app = web.Application(middlewares=[problem_middleware, admission_middleware(max_concurrent_requests)])
    passwords = Passwords(password_hasher)
    app[SERVICES] = Services(
        redis=redis,
        accounts=AccountStore(redis, passwords),
        sessions=SessionStore(redis),
        api_keys=ApiKeyStore(redis),
        login_limiter=LoginLimiter(redis, login_limits),
        venue=VenueStore(redis),
        ticketing=TicketingStore(redis),
        keyring=Keyring(redis, secret_key, key_rotate_after_s),
        secret_key=secret_key.encode(),
        cookie_secure=cookie_secure,
        open_signup=open_signup,
        pending_order_ttl_s=pending_order_ttl_s,
        attendance=attendance,
    )
    base = app[SERVICES]
    app[SERVICES] = dataclasses.replace(
        base,
        privacy=PrivacyService(
            redis,
            accounts=base.accounts,
            ticketing=base.ticketing,
            venue=base.venue,
            secret_key=base.secret_key,
            holders=personal_data,
        ),
    )
    if sweep_interval_s is not None:
        app.cleanup_ctx.append(_sweeper(app[SERVICES].ticketing, sweep_interval_s))
    # the router tries the routes under /orgs one by one in this order: the busiest first
    http_tickets.add_routes(app)
    http_accounts.add_routes(app)
    http_venue.add_routes(app)
    http_tokens.add_routes(app)
    http_attendance.add_routes(app)
    if analytics is not None:
        app[http_billing.ANALYTICS_KEY] = analytics
    http_billing.add_routes(app)
    http_privacy.add_routes(app)
    http_sso.setup(app, http_sso.Sso(SsoStore(redis, secret_key), Providers()))
    return app


async def bootstrap_org(
    redis: aioredis.Redis,
    name: str,
    owner_email: str,
    password: str,
    *,
    owner_name: str = "Owner",
    password_hasher: PasswordHasher | None = None,
) -> tuple[OrgRecord, UserId]:
    """Create an organisation and its owner (for ``venuekit dev`` to seed a demo).

    Idempotent on the e-mail: when the owner exists already, a new organisation is not made
    and the owner's first organisation is returned.
    """
    accounts = AccountStore(redis, Passwords(password_hasher))
    existing = await accounts.user_by_email(owner_email)
    if existing is not None:
        for membership in await accounts.memberships(existing):
            org = await accounts.org(OrgId(membership["org_id"]))
            if org is not None:
                return org, existing
    now = now_ms()
    user_id = existing or await accounts.create_user(owner_email, owner_name, password, now)
    return await accounts.create_org(name, user_id, now), user_id
