"""Request plumbing every handler shares: JSON bodies checked against the OpenAPI schemas,
JSON responses, and who is asking (session, API key or ticket holder) with tenancy checks.

Tenancy rule: a caller who is not a member of the organisation in the path gets
``404 not_found``, exactly as if it did not exist; a member whose role lacks the permission
gets ``403 forbidden``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import orjson
from aiohttp import web

from control_api.context import services
from control_api.ids import ApiKeyId, EventId, OrderId, OrgId, UserId, looks_like_id
from control_api.openapi import DOCUMENT, SCHEMAS
from control_api.problems import ApiError
from control_api.roles import Permission, Role, allows
from control_api.schema import validate
from control_api.sessions import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, BrowserSession, csrf_ok
from control_api.ticket_codes import parse_code
from control_api.ticketing import TicketRecord, ticket_state

MAX_BODY_BYTES: Final = 64 * 1024
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
IDEMPOTENCY_KEY_RE: Final = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


async def read_body(request: web.Request, schema_name: str, *, optional: bool = False) -> dict[str, Any]:
    """The JSON object in the body, valid against ``schema_name``; a 4xx problem otherwise.

    ``optional``: an empty body counts as ``{}``.
    """
    declared = request.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"at most {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(16 * 1024):  # read() returns what has arrived
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, "body_too_large", f"at most {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip() and optional:
        return {}
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send Content-Type: application/json")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", str(exc)) from None
    errors = validate(value, SCHEMAS[schema_name], DOCUMENT)
    if errors:
        summary = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:5])
        raise ApiError(422, "validation_failed", summary, errors=errors[:50])
    assert isinstance(value, dict)
    return value


def json_response(data: Any, status: int = 200, *, cacheable_s: int = 0) -> web.Response:
    """A JSON response; ``no-store`` unless ``cacheable_s`` (answers carry secrets: API key
    secrets, ticket codes, join tokens, CSRF tokens)."""
    cache = f"public, max-age={cacheable_s}" if cacheable_s else "no-store"
    return web.Response(
        status=status,
        body=orjson.dumps(data),
        content_type="application/json",
        headers={"Cache-Control": cache},
    )


def path_id(request: web.Request, name: str) -> str:
    """A path parameter that must look like one of our ids; anything else is ``not_found``."""
    value = request.match_info[name]
    if not looks_like_id(value):
        raise ApiError(404, "not_found", f"no such {name.removesuffix('_id')}")
    return value


@dataclass(frozen=True, slots=True)
class Identity:
    """Who sent the request: a signed-in user or an API key (never both)."""

    user_id: UserId | None = None
    session: BrowserSession | None = None
    session_token: str | None = None
    api_key_org: OrgId | None = None
    api_key_id: ApiKeyId | None = None
    api_key_role: Role | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """A member (or API key) acting inside one organisation."""

    org_id: OrgId
    role: Role
    user_id: UserId | None
    api_key_id: ApiKeyId | None

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)


def _authorization(request: web.Request, scheme: str) -> str | None:
    header = request.headers.get("Authorization", "")
    prefix = scheme + " "
    if header[: len(prefix)].lower() == prefix.lower():
        return header[len(prefix) :].strip() or None
    return None


async def identify(request: web.Request) -> Identity | None:
    """The caller from an API key or a session cookie; enforces CSRF on unsafe session calls."""
    svc = services(request)
    bearer = _authorization(request, "Bearer")
    if bearer is not None:
        grant = await svc.api_keys.resolve(bearer)
        if grant is None:
            raise ApiError(401, "unauthenticated", "unknown or revoked API key")
        return Identity(api_key_org=grant.org_id, api_key_id=grant.key_id, api_key_role=grant.role)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    session = await svc.sessions.get(token)
    if session is None:
        return None
    if request.method not in SAFE_METHODS and not csrf_ok(
        session, request.headers.get(CSRF_HEADER), request.cookies.get(CSRF_COOKIE)
    ):
        raise ApiError(403, "csrf_failed", f"send the {CSRF_COOKIE} cookie's value in {CSRF_HEADER}")
    return Identity(user_id=session.user_id, session=session, session_token=token)


async def actor_in(request: web.Request, org_id: OrgId, identity: Identity | None) -> Actor | None:
    """The identity's role in ``org_id``; None when it is no member (or no identity)."""
    if identity is None:
        return None
    if identity.api_key_org is not None:
        if identity.api_key_org != org_id or identity.api_key_role is None:
            return None
        return Actor(org_id, identity.api_key_role, None, identity.api_key_id)
    if identity.user_id is None:
        return None
    role = await services(request).accounts.role_in(org_id, identity.user_id)
    return None if role is None else Actor(org_id, role, identity.user_id, None)


async def require(request: web.Request, permission: Permission) -> Actor:
    """The caller acting in the path's organisation with ``permission``, else 401/404/403."""
    org_id = OrgId(path_id(request, "org_id"))
    identity = await identify(request)
    if identity is None:
        raise ApiError(401, "unauthenticated", "sign in or send an API key")
    actor = await actor_in(request, org_id, identity)
    if actor is None:
        raise ApiError(404, "not_found", "no such organisation")
    if not actor.can(permission):
        raise ApiError(403, "forbidden", f"role {actor.role.value} may not {permission.value}")
    return actor


def ticket_code_of(request: web.Request) -> str | None:
    """The ticket code of an ``Authorization: Ticket <code>`` header."""
    return _authorization(request, "Ticket")


async def ticket_holder(request: web.Request, org_id: OrgId, event_id: EventId) -> TicketRecord | None:
    """The valid ticket of an ``Authorization: Ticket <code>`` header, None without the header.

    An unknown or forged code is ``401 ticket_invalid``; a ticket that is not valid (unpaid,
    cancelled, refunded, revoked) is ``403 ticket_invalid``.
    """
    code = ticket_code_of(request)
    if code is None:
        return None
    svc = services(request)
    ticket_id = parse_code(svc.secret_key, org_id, code)
    if ticket_id is None:
        raise ApiError(401, "ticket_invalid", "unknown ticket code")
    try:
        ticket = await svc.ticketing.ticket(org_id, event_id, ticket_id)
    except ApiError:
        raise ApiError(401, "ticket_invalid", "unknown ticket code") from None
    order = await svc.ticketing.order(org_id, event_id, OrderId(ticket["order_id"]))
    state = ticket_state(ticket, order)
    if state != "valid":
        raise ApiError(403, "ticket_invalid", f"the ticket is {state}")
    return ticket


def org_and_event(request: web.Request) -> tuple[OrgId, EventId]:
    return OrgId(path_id(request, "org_id")), EventId(path_id(request, "event_id"))


def idempotency_key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise ApiError(400, "idempotency_key_missing")
    if IDEMPOTENCY_KEY_RE.fullmatch(key) is None:
        raise ApiError(
            400, "idempotency_key_invalid", "16 to 64 characters of A-Z a-z 0-9 _ - (a UUID is ideal)"
        )
    return key
