"""HTTP handlers for sign-up, login/logout, the signed-in user, members and API keys."""

from __future__ import annotations

from aiohttp import web

from control_api import metrics
from control_api.clock import format_ms, now_ms
from control_api.context import Services, services
from control_api.http_support import identify, json_response, path_id, read_body, require
from control_api.ids import ApiKeyId, UserId
from control_api.problems import ApiError
from control_api.revocation import announce, participant_key
from control_api.roles import Permission, Role
from control_api.sessions import CSRF_COOKIE, SESSION_COOKIE, BrowserSession


async def signup(request: web.Request) -> web.Response:
    svc = services(request)
    if not svc.open_signup:
        raise ApiError(403, "forbidden", "sign-up is closed on this server")
    body = await read_body(request, "OrgCreate")
    owner = body["owner"]
    now = now_ms()
    user_id = await svc.accounts.create_user(owner["email"], owner["name"], owner["password"], now)
    org = await svc.accounts.create_org(body["name"], user_id, now)
    return json_response({"org": org, "owner_user_id": user_id}, 201)


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


async def login(request: web.Request) -> web.Response:
    svc = services(request)
    body = await read_body(request, "Login")
    email, client = body["email"], _client(request)
    if not await svc.login_limiter.may_try(email, client):
        metrics.LOGINS_FAILED.labels("rate_limited").inc()
        raise ApiError(
            429,
            "login_rate_limited",
            "too many failed logins; wait and try again",
            headers={"Retry-After": str(svc.login_limiter.limits.window_s)},
        )
    user_id = await svc.accounts.check_password(email, body["password"])
    if user_id is None:
        await svc.login_limiter.record_failure(email, client)
        metrics.LOGINS_FAILED.labels("invalid_credentials").inc()
        raise ApiError(401, "invalid_credentials")
    token, session = await svc.sessions.create(user_id, now_ms())
    response = json_response(
        {
            "user_id": user_id,
            "csrf_token": session.csrf_token,
            "expires_at": format_ms(session.expires_at_ms),
            "memberships": await svc.accounts.memberships(user_id),
        },
        201,
    )
    set_session_cookies(response, svc, token, session)
    return response


def set_session_cookies(
    response: web.StreamResponse, svc: Services, token: str, session: BrowserSession
) -> None:
    """The HTTP-only session cookie and the readable CSRF cookie (password login and SSO)."""
    for name, value, http_only in ((SESSION_COOKIE, token, True), (CSRF_COOKIE, session.csrf_token, False)):
        response.set_cookie(
            name,
            value,
            path="/",
            secure=svc.cookie_secure,
            httponly=http_only,
            samesite="Lax",
            max_age=svc.sessions.ttl_s,
        )


async def logout(request: web.Request) -> web.Response:
    identity = await identify(request)
    if identity is None or identity.session_token is None:
        raise ApiError(401, "unauthenticated", "no session")
    await services(request).sessions.delete(identity.session_token)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(CSRF_COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    identity = await identify(request)
    if identity is None or identity.user_id is None:
        raise ApiError(401, "unauthenticated", "sign in first")
    svc = services(request)
    email, name = await svc.accounts.profile(identity.user_id)
    memberships = await svc.accounts.memberships(identity.user_id)
    return json_response(
        {"user_id": identity.user_id, "email": email, "name": name, "memberships": memberships}
    )


async def get_org(request: web.Request) -> web.Response:
    actor = await require(request, Permission.ORG_READ)
    org = await services(request).accounts.org(actor.org_id)
    if org is None:
        raise ApiError(404, "not_found", "no such organisation")
    return json_response(org)


async def list_members(request: web.Request) -> web.Response:
    actor = await require(request, Permission.MEMBERS_READ)
    members = await services(request).accounts.members(actor.org_id)
    return json_response({"items": [m.public() for m in members]})


async def add_member(request: web.Request) -> web.Response:
    actor = await require(request, Permission.MEMBERS_MANAGE)
    body = await read_body(request, "MemberCreate")
    svc = services(request)
    user_id = await svc.accounts.user_by_email(body["email"])
    if user_id is None:
        if "password" not in body:
            raise ApiError(
                422,
                "validation_failed",
                "a new account needs a password",
                errors=[{"path": "/password", "message": "is required for a new account"}],
            )
        user_id = await svc.accounts.create_user(body["email"], body["name"], body["password"], now_ms())
    elif await svc.accounts.role_in(actor.org_id, user_id) is not None:
        raise ApiError(409, "conflict", "already a member")
    role = Role(body["role"])
    await svc.accounts.add_member(actor.org_id, user_id, role)
    email, name = await svc.accounts.profile(user_id)
    return json_response({"user_id": user_id, "email": email, "name": name, "role": role.value}, 201)


async def remove_member(request: web.Request) -> web.Response:
    actor = await require(request, Permission.MEMBERS_MANAGE)
    user_id = UserId(path_id(request, "user_id"))
    svc = services(request)
    if user_id == actor.user_id:
        raise ApiError(409, "conflict", "you cannot remove yourself")
    participant_ids = await svc.accounts.remove_member(actor.org_id, user_id)
    for participant_id in participant_ids:
        await svc.redis.set(participant_key(actor.org_id, participant_id), "1")
    if participant_ids:
        await announce(svc.redis, actor.org_id, participants=participant_ids)
    return web.Response(status=204)


async def create_api_key(request: web.Request) -> web.Response:
    actor = await require(request, Permission.API_KEYS_MANAGE)
    if actor.api_key_id is not None:
        raise ApiError(403, "forbidden", "API keys are managed by signed-in members only")
    body = await read_body(request, "ApiKeyCreate")
    record, secret = await services(request).api_keys.create(
        actor.org_id, body["name"], Role(body["role"]), now_ms()
    )
    return json_response({**record, "secret": secret}, 201)


async def list_api_keys(request: web.Request) -> web.Response:
    actor = await require(request, Permission.API_KEYS_MANAGE)
    return json_response({"items": await services(request).api_keys.list(actor.org_id)})


async def revoke_api_key(request: web.Request) -> web.Response:
    actor = await require(request, Permission.API_KEYS_MANAGE)
    if actor.api_key_id is not None:
        raise ApiError(403, "forbidden", "API keys are managed by signed-in members only")
    await services(request).api_keys.revoke(actor.org_id, ApiKeyId(path_id(request, "key_id")))
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/orgs", signup)
    app.router.add_post("/sessions", login)
    app.router.add_delete("/sessions/current", logout)
    app.router.add_get("/me", me)
    app.router.add_get("/orgs/{org_id}", get_org)
    app.router.add_get("/orgs/{org_id}/members", list_members)
    app.router.add_post("/orgs/{org_id}/members", add_member)
    app.router.add_delete("/orgs/{org_id}/members/{user_id}", remove_member)
    app.router.add_get("/orgs/{org_id}/api-keys", list_api_keys)
    app.router.add_post("/orgs/{org_id}/api-keys", create_api_key)
    app.router.add_delete("/orgs/{org_id}/api-keys/{key_id}", revoke_api_key)
