"""HTTP handlers of GDPR requests: access exports, erasure, retention settings, the audit log.

- ``GET /me/data`` and ``POST /me/erasure``: a signed-in person, about themselves only;
- ``POST /orgs/{org}/privacy/exports`` and ``.../erasures``: an owner, about a person of that
  organisation (found by e-mail; another organisation's people are ``subject_not_found``);
- ``GET|PUT /orgs/{org}/privacy/settings``: retention periods; ``GET .../privacy/audit``.

Every export and erasure is written to the audit log of each organisation it touched, naming
the person by a keyed digest of their e-mail, never by the e-mail itself.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from control_api.clock import format_ms, now_ms
from control_api.context import privacy, services
from control_api.http_support import Actor, identify, json_response, read_body, require
from control_api.ids import UserId
from control_api.privacy import AuditActor, PrivacyService, Subject
from control_api.problems import ApiError
from control_api.roles import Permission, Role
from control_api.sessions import CSRF_COOKIE, SESSION_COOKIE

MAX_AUDIT_PAGE = 500


async def _signed_in(request: web.Request) -> UserId:
    """The signed-in person (a session, never an API key: keys act for organisations)."""
    identity = await identify(request)
    if identity is None or identity.user_id is None:
        raise ApiError(401, "unauthenticated", "sign in to reach your own data")
    return identity.user_id


def _actor(actor: Actor) -> AuditActor:
    if actor.user_id is not None:
        return AuditActor("member", actor.user_id)
    return AuditActor("api_key", actor.api_key_id or "")


async def _subject_of(request: web.Request, store: PrivacyService, actor: Actor) -> Subject:
    body = await read_body(request, "PrivacySubject")
    await store.check_rate(f"org:{actor.org_id}:{actor.user_id or actor.api_key_id}")
    subject = await store.find(actor.org_id, body["email"])
    if subject.empty:
        raise ApiError(404, "subject_not_found", "this organisation holds nothing about that e-mail")
    return subject


async def export_for_org(request: web.Request) -> web.Response:
    actor = await require(request, Permission.PRIVACY_MANAGE)
    store = privacy(request)
    subject = await _subject_of(request, store, actor)
    now = now_ms()
    section = await store.export_org(subject)
    await store.audit(
        actor.org_id,
        action="export",
        actor=_actor(actor),
        subject=store.subject_digest(actor.org_id, subject.email),
        at_ms=now,
    )
    return json_response({"generated_at": format_ms(now), "profile": None, "organisations": [section]})


async def erase_for_org(request: web.Request) -> web.Response:
    actor = await require(request, Permission.PRIVACY_MANAGE)
    store = privacy(request)
    subject = await _subject_of(request, store, actor)
    if subject.role is Role.OWNER:
        raise ApiError(409, "subject_is_owner", "an owner cannot be erased; remove the ownership first")
    now = now_ms()
    digest = store.subject_digest(actor.org_id, subject.email)
    summary = await store.erase_in_org(subject)
    await store.audit(
        actor.org_id, action="erase", actor=_actor(actor), subject=digest, at_ms=now, detail=summary
    )
    return json_response({"erased_at": format_ms(now), "subject": digest, **summary})


async def export_mine(request: web.Request) -> web.Response:
    user_id = await _signed_in(request)
    store = privacy(request)
    await store.check_rate(f"user:{user_id}")
    now = now_ms()
    profile = await store.profile(user_id)
    sections = []
    for org_id in await store.orgs_of(user_id, profile["email"]):
        subject = await store.find(org_id, profile["email"], user_id)
        if subject.empty:
            continue
        sections.append(await store.export_org(subject))
        await store.audit(
            org_id,
            action="export",
            actor=AuditActor("subject"),  # named by the digest only, so erasing them leaves no id
            subject=store.subject_digest(org_id, profile["email"]),
            at_ms=now,
        )
    return json_response({"generated_at": format_ms(now), "profile": profile, "organisations": sections})


async def erase_mine(request: web.Request) -> web.Response:
    user_id = await _signed_in(request)
    await read_body(request, "ErasureConfirmation")
    svc = services(request)
    store = privacy(request)
    await store.check_rate(f"user:{user_id}")
    email, _ = await svc.accounts.profile(user_id)
    owned = [m["org_id"] for m in await svc.accounts.memberships(user_id) if m["role"] == Role.OWNER.value]
    if owned:
        raise ApiError(
            409, "subject_is_owner", "you own an organisation; hand it over before erasing your account"
        )
    now = now_ms()
    totals: dict[str, int] = {}
    for org_id in await store.orgs_of(user_id, email):
        subject = await store.find(org_id, email, user_id)
        if subject.empty:
            continue
        summary = await store.erase_in_org(subject)
        for name, count in summary.items():
            totals[name] = totals.get(name, 0) + count
        # The person asked: the audit names no account, only the digest of the e-mail.
        await store.audit(
            org_id,
            action="erase",
            actor=AuditActor("subject"),
            subject=store.subject_digest(org_id, email),
            at_ms=now,
            detail=summary,
        )
    await store.erase_account(user_id, email)
    response = json_response(
        {
            "erased_at": format_ms(now),
            "subject": "self",
            **{k: totals.get(k, 0) for k in _SUMMARY_KEYS},
        }
    )
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.del_cookie(name, path="/")
    return response


_SUMMARY_KEYS = ("orders_anonymised", "tickets_revoked", "participants_erased", "records_changed")


async def get_settings(request: web.Request) -> web.Response:
    actor = await require(request, Permission.PRIVACY_MANAGE)
    return json_response(await privacy(request).settings(actor.org_id))


async def put_settings(request: web.Request) -> web.Response:
    actor = await require(request, Permission.PRIVACY_MANAGE)
    body: dict[str, Any] = await read_body(request, "PrivacySettingsPatch")
    store = privacy(request)
    settings = await store.set_settings(actor.org_id, body)
    await store.audit(
        actor.org_id, action="settings", actor=_actor(actor), subject="", at_ms=now_ms(), detail=body
    )
    return json_response(settings)


async def get_audit(request: web.Request) -> web.Response:
    actor = await require(request, Permission.PRIVACY_MANAGE)
    raw_limit = request.query.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_AUDIT_PAGE:
        raise ApiError(422, "validation_failed", f"limit must be 1..{MAX_AUDIT_PAGE}")
    return json_response({"items": await privacy(request).audit_log(actor.org_id, int(raw_limit))})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/me/data", export_mine)
    app.router.add_post("/me/erasure", erase_mine)
    app.router.add_post("/orgs/{org_id}/privacy/exports", export_for_org)
    app.router.add_post("/orgs/{org_id}/privacy/erasures", erase_for_org)
    app.router.add_get("/orgs/{org_id}/privacy/settings", get_settings)
    app.router.add_put("/orgs/{org_id}/privacy/settings", put_settings)
    app.router.add_get("/orgs/{org_id}/privacy/audit", get_audit)
