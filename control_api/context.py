"""The services one API application shares, stored on it under :data:`SERVICES`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Protocol

import redis.asyncio as aioredis
from aiohttp import web

from control_api.accounts import AccountStore
from control_api.api_keys import ApiKeyStore
from control_api.keyring import Keyring
from control_api.login_limit import LoginLimiter
from control_api.privacy import PrivacyService
from control_api.sessions import SessionStore
from control_api.ticketing import TicketingStore
from control_api.venue import VenueStore


@dataclass(frozen=True, slots=True)
class Services:
    redis: aioredis.Redis
    accounts: AccountStore
    sessions: SessionStore
    api_keys: ApiKeyStore
    login_limiter: LoginLimiter
    venue: VenueStore
    ticketing: TicketingStore
    keyring: Keyring
    secret_key: bytes
    cookie_secure: bool
    open_signup: bool
    pending_order_ttl_s: int
    attendance: AttendanceSource | None = None
    privacy: PrivacyService | None = None


class AttendanceSource(Protocol):
    """Where attendance comes from (the analytics log); wired by the composition root."""

    async def attendance(self, event_id: str) -> dict[str, Any]:
        """JSON-ready figures matching the OpenAPI ``Attendance`` schema (without ``event_id``)."""
        ...


SERVICES: Final = web.AppKey("control_api_services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def privacy(request: web.Request) -> PrivacyService:
    found = request.app[SERVICES].privacy
    assert found is not None, "create_app always builds the privacy service"
    return found
