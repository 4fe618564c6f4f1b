"""Enterprise single sign-on: full OpenID Connect logins against a provider on loopback (real
redirects, real signed ID tokens, PKCE checked by the provider), the refusals, just-in-time
provisioning, automatic tickets, and isolation from another organisation's hung provider."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
from yarl import URL

from control_api.sso import email_allowed, role_from_claims, safe_next
from tests.control_api.conftest import ClientFactory, Org, make_org
from tests.control_api.oidc_provider import Provider, running_provider
from tests.control_api.support import BASE, Api, Reply
from tests.control_api.test_tickets import TICKET_TYPE
from tests.control_api.test_venue import create_event


def sso_config(provider: Provider, **changes: Any) -> dict[str, Any]:
    return {
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "client_secret": provider.client_secret,
        "allowed_domains": ["acme.test"],
        "role_claim": "groups",
        "role_map": {"engineering": "organiser", "support": "staff"},
        "default_role": "attendee",
        **changes,
    }


@dataclass
class Outcome:
    status: int
    location: str | None
    reply: Reply | None


async def start(api: Api, org_id: str, next_path: str = "/") -> URL:
    """``GET .../sso/login`` then the provider's authorize redirect; the callback URL."""
    async with api.client.get(
        f"{BASE}/orgs/{org_id}/sso/login", params={"next": next_path}, allow_redirects=False
    ) as resp:
        assert resp.status == 302, await resp.text()
        authorize = URL(resp.headers["Location"])
    assert authorize.query["code_challenge_method"] == "S256"
    async with api.client.session.get(authorize, allow_redirects=False) as resp:
        assert resp.status == 302, await resp.text()
        back = URL(resp.headers["Location"])
    assert back.path == BASE + "/sso/callback"
    return back


async def finish(api: Api, back: URL) -> Outcome:
    """Follow the provider's redirect to our callback (real HTTP, the browser's cookies)."""
    async with api.client.get(back.path_qs, allow_redirects=False) as resp:
        raw = await resp.read()
        status, location, ctype, headers = (
            resp.status,
            resp.headers.get("Location"),
            resp.content_type,
            dict(resp.headers),
        )
    if status == 302:
        csrf = next((c.value for c in api.client.session.cookie_jar if c.key == "vk_csrf"), None)
        assert csrf
        api.headers["X-CSRF-Token"] = csrf
        return Outcome(status, location, None)
    reply = Reply(status, orjson.loads(raw) if raw else None, headers, ctype)
    api._check("GET", back.path_qs, reply)
    return Outcome(status, location, reply)


async def login(api: Api, org_id: str, next_path: str = "/") -> Outcome:
    return await finish(api, await start(api, org_id, next_path))


async def configure(org: Org, provider: Provider, **changes: Any) -> dict[str, Any]:
    reply = await org.api.call("PUT", f"/orgs/{org.id}/sso", sso_config(provider, **changes), expect=200)
    return dict(reply.body)


async def test_full_login_provisions_the_user_with_the_mapped_role(
    org: Org, new_client: ClientFactory, redis_client: aioredis.Redis
) -> None:
    async with running_provider(Provider()) as idp:
        view = await configure(org, idp)
        assert "client_secret" not in view and view["client_secret_set"] is True
        got = await org.api.get(f"/orgs/{org.id}/sso", expect=200)
        assert idp.client_secret not in orjson.dumps(got.body).decode()
        for key in await redis_client.keys("*"):
            raw = await redis_client.dump(key)
            assert idp.client_secret.encode() not in (raw or b""), key

        staff = await new_client()
        outcome = await login(staff, org.id, next_path="/#org=x")
        assert outcome.status == 302 and outcome.location == "/#org=x"
        me = await staff.get("/me", expect=200)
        assert me.body["email"] == "ada@acme.test" and me.body["name"] == "Ada Lovelace"
        assert me.body["memberships"] == [{"org_id": org.id, "role": "organiser"}]
        # the session works for writes (cookie + CSRF), as an organiser
        await staff.post(f"/orgs/{org.id}/events", (await _event_body()), expect=201)
        members = await org.api.get(f"/orgs/{org.id}/members", expect=200)
        assert {m["email"]: m["role"] for m in members.body["items"]}["ada@acme.test"] == "organiser"

        # second login: same user, role follows the provider's groups
        idp.user = {**idp.user, "groups": ["support"]}
        again = await new_client()
        assert (await login(again, org.id)).status == 302
        me2 = await again.get("/me", expect=200)
        assert me2.body["user_id"] == me.body["user_id"]
        assert me2.body["memberships"] == [{"org_id": org.id, "role": "staff"}]
        # SSO-only accounts have no password
        await again.post("/sessions", {"email": "ada@acme.test", "password": "x" * 12}, expect=401)


async def _event_body() -> dict[str, Any]:
    return {
        "title": "Internal demo day",
        "time_zone": "Europe/Berlin",
        "starts_at": "2030-05-01T09:00:00+02:00",
        "ends_at": "2030-05-01T18:00:00+02:00",
        "capacity": 50,
    }


async def test_a_wrong_pkce_verifier_is_refused(
    org: Org, new_client: ClientFactory, redis_client: aioredis.Redis
) -> None:
    async with running_provider(Provider()) as idp:
        await configure(org, idp)
        api = await new_client()
        back = await start(api, org.id)
        flow_key = "vk:sso-flow:" + hashlib.sha256(back.query["state"].encode()).hexdigest()
        raw = await redis_client.get(flow_key)
        assert raw is not None
        flow = orjson.loads(raw)
        flow["verifier"] = "x" * 64  # what a thief of the code (without the verifier) would send
        await redis_client.set(flow_key, orjson.dumps(flow), ex=600)
        outcome = await finish(api, back)
        assert outcome.status == 401 and outcome.reply is not None
        assert outcome.reply.code == "sso_token_rejected"
        assert idp.refusals == ["PKCE verifier does not match the challenge"]
        await api.get("/me", expect=401)


async def test_tampered_id_tokens_are_refused(org: Org, new_client: ClientFactory) -> None:
    async with running_provider(Provider()) as idp:
        await configure(org, idp)
        cases: list[tuple[str, dict[str, Any]]] = [
            ("nonce", {"nonce": "not-the-one-we-sent"}),
            ("audience", {"aud": "another-client"}),
            ("issuer", {"iss": "https://evil.example"}),
            ("expired", {"exp": 1_000_000_000, "iat": 999_999_000}),
        ]
        for name, tamper in cases:
            idp.tamper = tamper
            api = await new_client()
            outcome = await login(api, org.id)
            assert outcome.reply is not None, name
            assert (outcome.status, outcome.reply.code) == (401, "sso_token_rejected"), (name, outcome)
            await api.get("/me", expect=401)
        idp.tamper = {}
        idp.sign_with_unpublished_key = True
        api = await new_client()
        outcome = await login(api, org.id)
        assert outcome.reply is not None and outcome.reply.code == "sso_token_rejected"
        members = await org.api.get(f"/orgs/{org.id}/members", expect=200)
        assert [m["email"] for m in members.body["items"]] == [org.email]


async def test_disallowed_domains_unverified_emails_and_existing_accounts_are_refused(
    org: Org, new_client: ClientFactory
) -> None:
    async with running_provider(Provider()) as idp:
        await configure(org, idp)
        idp.user = {**idp.user, "sub": "u-2", "email": "eve@evil.test"}
        outcome = await login(await new_client(), org.id)
        assert outcome.reply is not None and (outcome.status, outcome.reply.code) == (
            403,
            "sso_email_not_allowed",
        )
        idp.user = {**idp.user, "sub": "u-3", "email": "bob@acme.test", "email_verified": False}
        outcome = await login(await new_client(), org.id)
        assert outcome.reply is not None and outcome.reply.code == "sso_email_not_allowed"
        # an account with that e-mail exists already: never taken over through SSO
        await org.api.post(
            f"/orgs/{org.id}/members",
            {"email": "carol@acme.test", "name": "Carol", "role": "staff", "password": "a long password"},
            expect=201,
        )
        idp.user = {**idp.user, "sub": "u-4", "email": "carol@acme.test", "email_verified": True}
        outcome = await login(await new_client(), org.id)
        assert outcome.reply is not None and (outcome.status, outcome.reply.code) == (
            409,
            "sso_account_exists",
        )


async def test_state_is_single_use_and_bound_to_the_browser(org: Org, new_client: ClientFactory) -> None:
    async with running_provider(Provider()) as idp:
        await configure(org, idp)
        api = await new_client()
        back = await start(api, org.id)
        stranger = await new_client()  # someone else's browser gets the callback URL
        outcome = await finish(stranger, back)
        assert outcome.reply is not None and outcome.reply.code == "sso_state_invalid"
        assert (await finish(api, back)).status == 302
        replay = await finish(api, back)
        assert replay.reply is not None and replay.reply.code == "sso_state_invalid"


async def test_config_is_owner_only_and_tenant_isolated(
    org: Org, other_org: Org, new_client: ClientFactory
) -> None:
    async with running_provider(Provider()) as idp:
        await other_org.api.call("PUT", f"/orgs/{org.id}/sso", sso_config(idp), expect=404)
        await org.api.get(f"/orgs/{org.id}/sso", expect=404)  # not configured yet
        no_secret = {k: v for k, v in sso_config(idp).items() if k != "client_secret"}
        first = await org.api.call("PUT", f"/orgs/{org.id}/sso", no_secret, expect=422)
        assert first.code == "validation_failed"
        await configure(org, idp)
        await org.api.call("PUT", f"/orgs/{org.id}/sso", no_secret, expect=200)  # secret kept
        await other_org.api.get(f"/orgs/{org.id}/sso", expect=404)
        bad = await org.api.call(
            "PUT", f"/orgs/{org.id}/sso", sso_config(idp, issuer="http://idp.example.com"), expect=422
        )
        assert bad.code == "validation_failed"
        await (await new_client()).get(f"/orgs/{other_org.id}/sso/login", expect=404)
        await org.api.delete(f"/orgs/{org.id}/sso", expect=204)
        await (await new_client()).get(f"/orgs/{org.id}/sso/login", expect=404)


async def test_jit_users_get_tickets_to_internal_events_once(org: Org, new_client: ClientFactory) -> None:
    event = await create_event(org)
    base = f"/orgs/{org.id}/events/{event['id']}"
    await org.api.post(base + "/publish", expect=200)
    tt = await org.api.post(base + "/ticket-types", {**TICKET_TYPE, "name": "Staff"}, expect=201)
    async with running_provider(Provider()) as idp:
        idp.user = {**idp.user, "groups": []}  # attendee by default
        await configure(org, idp, grant_tickets=[{"event_id": event["id"], "ticket_type_id": tt.body["id"]}])
        api = await new_client()
        assert (await login(api, org.id)).status == 302
        mine = await api.get(f"/orgs/{org.id}/sso/tickets", expect=200)
        assert len(mine.body["items"]) == 1
        code = mine.body["items"][0]["code"]
        token = await (await new_client()).post(
            base + "/join-tokens", {}, headers={"Authorization": f"Ticket {code}"}, expect=201
        )
        assert token.body["participant_id"]
        again = await new_client()
        assert (await login(again, org.id)).status == 302
        assert len((await again.get(f"/orgs/{org.id}/sso/tickets", expect=200)).body["items"]) == 1
        types = await org.api.get(base + "/ticket-types", expect=200)
        assert types.body["items"][0]["sold"] == 1


async def test_a_hung_provider_of_one_org_does_not_delay_another_orgs_login(
    new_client: ClientFactory,
) -> None:
    org_a = await make_org(new_client, "Initech")
    org_b = await make_org(new_client, "Hooli")
    async with running_provider(Provider()) as idp_a, running_provider(Provider()) as idp_b:
        await configure(org_a, idp_a, timeout_s=30)
        idp_b.user = {**idp_b.user, "email": "gavin@hooli.test", "sub": "g-1"}
        await configure(org_b, idp_b, allowed_domains=["hooli.test"])
        idp_a.hang = asyncio.Event()
        alice = await new_client()
        back_a = await start(alice, org_a.id)
        hung = asyncio.create_task(finish(alice, back_a))
        await asyncio.wait_for(idp_a.token_requested.wait(), 10)
        # org B signs in completely (discovery, token, JWKS) while A's token call hangs
        gavin = await new_client()
        assert (await asyncio.wait_for(login(gavin, org_b.id), 10)).status == 302
        assert not hung.done()
        assert (await gavin.get("/me", expect=200)).body["memberships"][0]["org_id"] == org_b.id
        idp_a.hang.set()  # the provider answers 500 at last
        outcome = await asyncio.wait_for(hung, 10)
        assert outcome.reply is not None and (outcome.status, outcome.reply.code) == (
            502,
            "sso_provider_failed",
        )


async def test_a_provider_past_its_timeout_is_a_504(org: Org, new_client: ClientFactory) -> None:
    async with running_provider(Provider()) as idp:
        await configure(org, idp, timeout_s=1)
        idp.hang = asyncio.Event()
        outcome = await login(await new_client(), org.id)
        assert outcome.reply is not None and (outcome.status, outcome.reply.code) == (
            504,
            "sso_provider_timeout",
        )


def test_pure_rules() -> None:
    assert email_allowed("a@Acme.Test", ["acme.test"])
    assert not email_allowed("a@sub.acme.test", ["acme.test"])
    assert not email_allowed("@acme.test", ["acme.test"])
    config: Any = {
        "role_claim": "groups",
        "role_map": {"a": "staff", "b": "organiser"},
        "default_role": "attendee",
    }
    assert role_from_claims({"groups": ["a", "b"]}, config).value == "organiser"
    assert role_from_claims({"groups": "a"}, config).value == "staff"
    assert role_from_claims({"groups": [1, "zz"]}, config).value == "attendee"
    assert role_from_claims({}, config).value == "attendee"
    for bad in ("//evil.example", "https://evil.example", "/\\evil", "", None, "/a\nb"):
        assert safe_next(bad) == "/"
    assert safe_next("/#org=1&event=2") == "/#org=1&event=2"
