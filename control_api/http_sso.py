"""HTTP handlers for enterprise single sign-on (OpenID Connect, authorization code + PKCE).

``PUT /orgs/{org}/sso`` configures an organisation's provider (owner only; the client secret
is write-only). ``GET /orgs/{org}/sso/login`` starts a login: it keeps state, nonce and the
PKCE verifier server-side (10 minutes, single use), binds the state to the browser with an
HTTP-only cookie and redirects to the provider. ``GET /sso/callback`` exchanges the code,
verifies the ID token, provisions the user just in time into the organisation (role from the
claims, tickets to internal events if configured), starts a session and redirects to the
web client.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from yarl import URL

from control_api import metrics
from control_api.clock import format_ms, now_ms
from control_api.context import Services, services
from control_api.http_accounts import set_session_cookies
from control_api.http_support import json_response, path_id, read_body, require
from control_api.ids import EventId, OrderId, OrgId, TicketId, TicketTypeId, UserId, new_id
from control_api.oidc import (
    ProviderError,
    Providers,
    ProviderSettings,
    TokenRejected,
    new_random,
    new_verifier,
)
from control_api.problems import ApiError
from control_api.roles import Permission, Role
from control_api.sso import (
    DEFAULT_TIMEOUT_S,
    FLOW_TTL_S,
    Flow,
    SsoConfig,
    SsoStore,
    TicketGrant,
    email_allowed,
    role_from_claims,
    safe_next,
)
from control_api.store import get_json, org_key
from control_api.ticket_codes import make_code
from control_api.ticketing import OrderRecord, OrderState, TicketRecord

log = logging.getLogger(__name__)

STATE_COOKIE: Final = "vk_sso_state"
_LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


@dataclass(frozen=True, slots=True)
class Sso:
    store: SsoStore
    providers: Providers


SSO: Final = web.AppKey("control_api_sso", Sso)


def _sso(request: web.Request) -> Sso:
    return request.app[SSO]


def _view(config: SsoConfig, org_id: OrgId, has_secret: bool) -> dict[str, Any]:
    return {**config, "client_secret_set": has_secret, "login_path": f"/api/v1/orgs/{org_id}/sso/login"}


def _check_issuer(issuer: str) -> None:
    url = URL(issuer)
    loopback = url.scheme == "http" and (url.host or "") in _LOOPBACK_HOSTS
    if not (url.scheme == "https" or loopback) or not url.host or url.query_string or url.fragment:
        raise ApiError(
            422,
            "validation_failed",
            "the issuer must be an https URL without query or fragment (http only on loopback)",
            errors=[{"path": "/issuer", "message": "must be https://host[/path]"}],
        )


async def get_config(request: web.Request) -> web.Response:
    actor = await require(request, Permission.MEMBERS_MANAGE)
    store = _sso(request).store
    config = await store.config(actor.org_id)
    if config is None:
        raise ApiError(404, "sso_not_configured")
    return json_response(_view(config, actor.org_id, await store.client_secret(actor.org_id) is not None))


async def put_config(request: web.Request) -> web.Response:
    actor = await require(request, Permission.MEMBERS_MANAGE)
    body = await read_body(request, "SsoConfigPut")
    svc, sso = services(request), _sso(request)
    _check_issuer(body["issuer"])
    secret: str | None = body.get("client_secret")
    if secret is None and await sso.store.client_secret(actor.org_id) is None:
        raise ApiError(
            422,
            "validation_failed",
            "the first configuration needs the client secret",
            errors=[{"path": "/client_secret", "message": "is required until one is stored"}],
        )
    grants: list[TicketGrant] = body.get("grant_tickets", [])
    for grant in grants:
        event_id = EventId(grant["event_id"])
        await svc.venue.event(actor.org_id, event_id)
        await svc.ticketing.ticket_type(actor.org_id, event_id, TicketTypeId(grant["ticket_type_id"]))
    config: SsoConfig = {
        "issuer": body["issuer"],
        "client_id": body["client_id"],
        "allowed_domains": sorted({d.lower() for d in body["allowed_domains"]}),
        "role_claim": body.get("role_claim", ""),
        "role_map": body.get("role_map", {}),
        "default_role": body.get("default_role", Role.STAFF.value),
        "grant_tickets": grants,
        "timeout_s": float(body.get("timeout_s", DEFAULT_TIMEOUT_S)),
        "updated_at": format_ms(now_ms()),
    }
    await sso.store.put(actor.org_id, config, secret)
    sso.providers.forget(actor.org_id)
    return json_response(_view(config, actor.org_id, True))


async def delete_config(request: web.Request) -> web.Response:
    actor = await require(request, Permission.MEMBERS_MANAGE)
    sso = _sso(request)
    if not await sso.store.delete(actor.org_id):
        raise ApiError(404, "sso_not_configured")
    sso.providers.forget(actor.org_id)
    return web.Response(status=204)


def _provider_error(exc: ProviderError) -> ApiError:
    if exc.timeout:
        return ApiError(504, "sso_provider_timeout", exc.detail)
    return ApiError(502, "sso_provider_failed", exc.detail)


def _settings(config: SsoConfig) -> ProviderSettings:
    return ProviderSettings(config["issuer"], config["client_id"], config["timeout_s"])


async def start_login(request: web.Request) -> web.Response:
    org_id = OrgId(path_id(request, "org_id"))
    sso = _sso(request)
    config = await sso.store.config(org_id)
    if config is None:
        raise ApiError(404, "sso_not_configured")
    if not await sso.store.may_start(request.remote or "unknown"):
        raise ApiError(429, "sso_rate_limited", headers={"Retry-After": "60"})
    suffix = f"/orgs/{org_id}/sso/login"
    callback = request.url.origin().with_path(request.path.removesuffix(suffix) + "/sso/callback")
    state, nonce, verifier = new_random(), new_random(), new_verifier()
    flow: Flow = {
        "org_id": org_id,
        "nonce": nonce,
        "verifier": verifier,
        "redirect_uri": str(callback),
        "next": safe_next(request.query.get("next")),
    }
    provider = sso.providers.get(org_id, _settings(config))
    try:
        target = await provider.authorize_url(
            redirect_uri=flow["redirect_uri"], state=state, nonce=nonce, verifier=verifier
        )
    except ProviderError as exc:
        raise _provider_error(exc) from None
    await sso.store.save_flow(state, flow)
    response = web.Response(status=302, headers={"Location": target, "Cache-Control": "no-store"})
    response.set_cookie(
        STATE_COOKIE,
        state,
        path="/",
        secure=services(request).cookie_secure,
        httponly=True,
        samesite="Lax",
        max_age=FLOW_TTL_S,
    )
    return response


async def callback(request: web.Request) -> web.Response:
    try:
        response = await _callback(request)
    except ApiError as exc:
        metrics.SSO_LOGINS.labels(exc.code).inc()
        raise
    metrics.SSO_LOGINS.labels("ok").inc()
    return response


async def _callback(request: web.Request) -> web.Response:
    svc, sso = services(request), _sso(request)
    state = request.query.get("state", "")
    cookie = request.cookies.get(STATE_COOKIE, "")
    # The state must come back in the same browser that started the login (login CSRF).
    if not state or not cookie or not hmac.compare_digest(state.encode(), cookie.encode()):
        raise ApiError(401, "sso_state_invalid", "start the sign-in again")
    flow = await sso.store.take_flow(state)
    if flow is None:
        raise ApiError(401, "sso_state_invalid", "start the sign-in again")
    if "error" in request.query:
        raise ApiError(401, "sso_denied", request.query["error"][:100])
    code = request.query.get("code")
    if not code:
        raise ApiError(400, "bad_request", "the callback has no code")
    org_id = OrgId(flow["org_id"])
    config = await sso.store.config(org_id)
    client_secret = await sso.store.client_secret(org_id)
    if config is None or client_secret is None:
        raise ApiError(404, "sso_not_configured")
    provider = sso.providers.get(org_id, _settings(config))
    try:
        id_token = await provider.exchange(
            code=code,
            verifier=flow["verifier"],
            redirect_uri=flow["redirect_uri"],
            client_secret=client_secret,
        )
        claims = await provider.verify(id_token, nonce=flow["nonce"])
    except ProviderError as exc:
        raise _provider_error(exc) from None
    except TokenRejected as exc:
        raise ApiError(401, "sso_token_rejected", exc.detail) from None
    email = claims.get("email")
    verified = claims.get("email_verified", True)  # some providers send the string "true"
    if not isinstance(email, str) or verified not in (True, "true"):
        raise ApiError(403, "sso_email_not_allowed", "the provider vouches for no verified e-mail")
    if not email_allowed(email, config["allowed_domains"]):
        raise ApiError(403, "sso_email_not_allowed", "this e-mail domain may not sign in here")
    user_id = await _provision(svc, sso.store, config, org_id, claims=claims, email=email)
    await _grant_tickets(svc, sso.store, config, org_id, user_id)
    token, session = await svc.sessions.create(user_id, now_ms())
    response = web.Response(status=302, headers={"Location": flow["next"], "Cache-Control": "no-store"})
    set_session_cookies(response, svc, token, session)
    response.del_cookie(STATE_COOKIE, path="/")
    return response


async def _provision(
    svc: Services, store: SsoStore, config: SsoConfig, org_id: OrgId, *, claims: dict[str, Any], email: str
) -> UserId:
    """The user of this provider identity, made on first sign-in, member of ``org_id`` with the
    role the claims map to (an owner stays owner)."""
    subject = str(claims["sub"])
    user_id = await store.linked_user(config["issuer"], subject)
    if user_id is None:
        if await svc.accounts.user_by_email(email) is not None:
            # Never link an existing account by e-mail: another organisation's provider could
            # then take over anyone's account. The person signs in with their password.
            raise ApiError(409, "sso_account_exists")
        raw_name = claims.get("name")
        name = (
            raw_name.strip()[:120]
            if isinstance(raw_name, str) and raw_name.strip()
            else email.split("@", maxsplit=1)[0]
        )
        try:
            created = await svc.accounts.create_user(email, name, None, now_ms())
        except ApiError as exc:
            raise ApiError(409, "sso_account_exists") from exc
        user_id = await store.link(config["issuer"], subject, created)
    role = role_from_claims(claims, config)
    current = await svc.accounts.role_in(org_id, user_id)
    if current is not Role.OWNER and current is not role:
        await svc.accounts.add_member(org_id, user_id, role)
    return user_id


async def _grant_tickets(
    svc: Services, store: SsoStore, config: SsoConfig, org_id: OrgId, user_id: UserId
) -> None:
    """One free, paid ticket per configured ticket type, once per user (never fails a login)."""
    for grant in config["grant_tickets"]:
        type_id = grant["ticket_type_id"]
        if not await store.claim_grant(org_id, user_id, type_id):
            continue
        ticket_id: str | None = None
        try:
            ticket_id = await _grant_one(
                svc, org_id, user_id, EventId(grant["event_id"]), TicketTypeId(type_id)
            )
        except ApiError as exc:
            log.warning("no automatic ticket of type %s for %s: %s", type_id, user_id, exc.code)
        finally:
            await store.record_grant(org_id, user_id, type_id, ticket_id)


async def _grant_one(
    svc: Services, org_id: OrgId, user_id: UserId, event_id: EventId, type_id: TicketTypeId
) -> str:
    ticket_type = await svc.ticketing.ticket_type(org_id, event_id, type_id)
    email, name = await svc.accounts.profile(user_id)
    now = now_ms()
    order_id = OrderId(new_id("ord"))
    ticket: TicketRecord = {
        "id": new_id("tkt"),
        "event_id": event_id,
        "order_id": order_id,
        "ticket_type_id": type_id,
        "participant_id": await svc.accounts.participant_of(org_id, user_id, event_id),
        "revoked": False,
    }
    order: OrderRecord = {
        "id": order_id,
        "event_id": event_id,
        "ticket_type_id": type_id,
        "quantity": 1,
        "state": OrderState.PAID.value,
        "total_minor": 0,
        "currency": ticket_type["currency"],
        "created_at": format_ms(now),
        "ticket_ids": [ticket["id"]],
        "pay_by": None,
    }
    placed = await svc.ticketing.place_order(
        org_id,
        idempotency_key=f"sso-grant-{user_id}-{type_id}",
        fingerprint="sso-grant",
        order=order,
        tickets=[ticket],
        buyer_name=name,
        buyer_email=email,
        invite_code=None,
        created_ms=now,
        pay_by_ms=None,
    )
    if placed.replayed:
        earlier = await svc.ticketing.order(org_id, event_id, placed.order_id)
        return earlier["ticket_ids"][0]
    metrics.TICKETS_SOLD.inc()
    return ticket["id"]


async def my_tickets(request: web.Request) -> web.Response:
    """Tickets single sign-on granted to the signed-in user in this organisation, with codes."""
    actor = await require(request, Permission.ORG_READ)
    if actor.user_id is None:
        raise ApiError(403, "forbidden", "an API key holds no tickets")
    svc = services(request)
    items = []
    for ticket_id in await _sso(request).store.granted_tickets(actor.org_id, actor.user_id):
        ticket = await get_json(svc.redis, org_key(actor.org_id, "ticket", ticket_id))
        if not isinstance(ticket, dict):
            continue
        items.append(
            {
                "id": ticket_id,
                "event_id": ticket["event_id"],
                "ticket_type_id": ticket["ticket_type_id"],
                "code": make_code(svc.secret_key, actor.org_id, TicketId(ticket_id)),
            }
        )
    return json_response({"items": items})


def setup(app: web.Application, sso: Sso) -> None:
    """Mount the routes and own the provider HTTP client (closed with the application)."""
    app[SSO] = sso

    async def close_providers(_app: web.Application) -> AsyncIterator[None]:
        yield
        with contextlib.suppress(Exception):
            await sso.providers.close()

    app.cleanup_ctx.append(close_providers)
    app.router.add_get("/orgs/{org_id}/sso", get_config)
    app.router.add_put("/orgs/{org_id}/sso", put_config)
    app.router.add_delete("/orgs/{org_id}/sso", delete_config)
    app.router.add_get("/orgs/{org_id}/sso/login", start_login)
    app.router.add_get("/orgs/{org_id}/sso/tickets", my_tickets)
    app.router.add_get("/sso/callback", callback)
