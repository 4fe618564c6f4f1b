"""Sign-up, login (rate limit, cookies, CSRF), members, roles and API keys over real HTTP."""

from __future__ import annotations

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from control_api.login_limit import MAX_FAILURES_PER_EMAIL
from tests.control_api.conftest import ClientFactory, Org, build_root, sign_in
from tests.control_api.support import PASSWORD, Api

EVENT = {
    "title": "Hack Week",
    "time_zone": "Europe/Berlin",
    "starts_at": "2030-05-01T09:00:00+02:00",
    "ends_at": "2030-05-03T18:00:00+02:00",
    "capacity": 500,
}


def _b(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


async def _all_redis_bytes(redis: aioredis.Redis) -> bytes:
    """Every key and value in Redis, concatenated (strings, hashes, zsets)."""
    chunks: list[bytes] = []
    async for key in redis.scan_iter():
        chunks.append(_b(key))
        kind = _b(await redis.type(key))
        if kind == b"string":
            chunks.append(_b(await redis.get(key) or b""))
        elif kind == b"hash":
            for k, v in (await redis.hgetall(key)).items():
                chunks += [_b(k), _b(v)]
        elif kind == b"zset":
            chunks += [_b(m) for m in await redis.zrange(key, 0, -1)]
    return b"\n".join(chunks)


async def test_signup_then_owner_reads_org_and_me(org: Org) -> None:
    reply = await org.api.get(f"/orgs/{org.id}", expect=200)
    assert reply.body["name"] == "Acme"
    me = await org.api.get("/me", expect=200)
    assert me.body["email"] == org.email
    assert me.body["memberships"] == [{"org_id": org.id, "role": "owner"}]


async def test_signup_with_a_taken_email_is_refused(org: Org, new_client: ClientFactory) -> None:
    api = await new_client()
    body = {"name": "Other", "owner": {"email": org.email, "password": PASSWORD, "name": "X"}}
    reply = await api.post("/orgs", body, expect=409)
    assert reply.code == "email_taken"


async def test_password_is_stored_as_argon2_hash_only(org: Org, redis_client: aioredis.Redis) -> None:
    dump = await _all_redis_bytes(redis_client)
    assert PASSWORD.encode() not in dump
    assert b"$argon2id$" in dump


async def test_wrong_password_is_401_and_logins_are_rate_limited(org: Org, new_client: ClientFactory) -> None:
    api = await new_client()
    for _ in range(MAX_FAILURES_PER_EMAIL):
        reply = await api.post("/sessions", {"email": org.email, "password": "wrong password!"}, expect=401)
        assert reply.code == "invalid_credentials"
    reply = await api.post("/sessions", {"email": org.email, "password": PASSWORD}, expect=429)
    assert reply.code == "login_rate_limited"
    assert int(reply.headers["Retry-After"]) > 0


async def test_unknown_email_is_the_same_401(new_client: ClientFactory) -> None:
    api = await new_client()
    reply = await api.post(
        "/sessions", {"email": "nobody@example.com", "password": "whatever1234"}, expect=401
    )
    assert reply.code == "invalid_credentials"


async def test_session_cookies_are_http_only_and_secure(redis_client: aioredis.Redis, org: Org) -> None:
    server = TestServer(build_root(redis_client, cookie_secure=True), host="127.0.0.1")
    async with TestClient(server) as client:
        resp = await client.post("/api/v1/sessions", json={"email": org.email, "password": PASSWORD})
        assert resp.status == 201
        cookies = {c.split("=", 1)[0]: c.lower() for c in resp.headers.getall("Set-Cookie")}
    assert "httponly" in cookies["vk_session"]
    assert "secure" in cookies["vk_session"]
    assert "samesite=lax" in cookies["vk_session"]
    assert "httponly" not in cookies["vk_csrf"]
    assert "secure" in cookies["vk_csrf"]


async def test_writes_with_a_session_need_the_csrf_header(org: Org) -> None:
    good = org.api.headers.pop("X-CSRF-Token")
    reply = await org.api.post(f"/orgs/{org.id}/events", EVENT, expect=403)
    assert reply.code == "csrf_failed"
    reply = await org.api.post(
        f"/orgs/{org.id}/events", EVENT, headers={"X-CSRF-Token": "forged"}, expect=403
    )
    assert reply.code == "csrf_failed"
    await org.api.get(f"/orgs/{org.id}/events", expect=200)  # reads need no token
    await org.api.post(f"/orgs/{org.id}/events", EVENT, headers={"X-CSRF-Token": good}, expect=201)


async def test_logout_ends_the_session(org: Org) -> None:
    await org.api.delete("/sessions/current", expect=204)
    reply = await org.api.get("/me", expect=401)
    assert reply.code == "unauthenticated"


async def test_anonymous_calls_are_401(new_client: ClientFactory, org: Org) -> None:
    api = await new_client()
    reply = await api.get(f"/orgs/{org.id}", expect=401)
    assert reply.code == "unauthenticated"
    assert "Bearer" in reply.headers["WWW-Authenticate"]
    assert (await api.post(f"/orgs/{org.id}/events", EVENT, expect=401)).code == "unauthenticated"


async def test_roles_limit_what_members_do(org: Org, new_client: ClientFactory) -> None:
    for email, role in (("org@example.com", "organiser"), ("staff@example.com", "staff")):
        body = {"email": email, "name": role.title(), "role": role, "password": PASSWORD}
        reply = await org.api.post(f"/orgs/{org.id}/members", body, expect=201)
        assert reply.body["role"] == role
    organiser = await new_client()
    await sign_in(organiser, "org@example.com")
    staff = await new_client()
    await sign_in(staff, "staff@example.com")

    await organiser.post(f"/orgs/{org.id}/events", EVENT, expect=201)
    denied = await organiser.post(
        f"/orgs/{org.id}/members",
        {"email": "x@example.com", "name": "X", "role": "owner", "password": PASSWORD},
    )
    assert (denied.status, denied.code) == (403, "forbidden")
    assert (await staff.post(f"/orgs/{org.id}/events", EVENT, expect=403)).code == "forbidden"
    assert (await staff.get(f"/orgs/{org.id}/members", expect=403)).code == "forbidden"
    await staff.get(f"/orgs/{org.id}/events", expect=200)
    members = await organiser.get(f"/orgs/{org.id}/members", expect=200)
    assert sorted(m["role"] for m in members.body["items"]) == ["organiser", "owner", "staff"]


async def test_new_member_needs_a_password_and_existing_member_conflicts(org: Org) -> None:
    reply = await org.api.post(
        f"/orgs/{org.id}/members", {"email": "n@example.com", "name": "N", "role": "staff"}, expect=422
    )
    assert reply.body["errors"][0]["path"] == "/password"
    body = {"email": "n@example.com", "name": "N", "role": "staff", "password": PASSWORD}
    await org.api.post(f"/orgs/{org.id}/members", body, expect=201)
    assert (await org.api.post(f"/orgs/{org.id}/members", body, expect=409)).code == "conflict"


async def test_removed_member_loses_access(org: Org, new_client: ClientFactory) -> None:
    body = {"email": "gone@example.com", "name": "Gone", "role": "organiser", "password": PASSWORD}
    member = (await org.api.post(f"/orgs/{org.id}/members", body, expect=201)).body
    api = await new_client()
    await sign_in(api, "gone@example.com")
    await api.get(f"/orgs/{org.id}/events", expect=200)
    await org.api.delete(f"/orgs/{org.id}/members/{member['user_id']}", expect=204)
    assert (await api.get(f"/orgs/{org.id}/events", expect=404)).code == "not_found"
    assert (await org.api.delete(f"/orgs/{org.id}/members/{org.owner_id}", expect=409)).code == "conflict"


async def test_api_keys_authenticate_scripts_and_can_be_revoked(
    org: Org, new_client: ClientFactory, redis_client: aioredis.Redis
) -> None:
    created = await org.api.post(f"/orgs/{org.id}/api-keys", {"name": "ci", "role": "organiser"}, expect=201)
    secret = created.body["secret"]
    assert created.headers["Cache-Control"] == "no-store"
    assert secret not in (await _all_redis_bytes(redis_client)).decode(errors="replace")
    listed = await org.api.get(f"/orgs/{org.id}/api-keys", expect=200)
    assert [k["id"] for k in listed.body["items"]] == [created.body["id"]]
    assert "secret" not in listed.body["items"][0]

    script = await new_client()
    script.headers["Authorization"] = f"Bearer {secret}"
    await script.post(f"/orgs/{org.id}/events", EVENT, expect=201)  # no CSRF for API keys
    refused = await script.post(f"/orgs/{org.id}/api-keys", {"name": "more", "role": "organiser"}, expect=403)
    assert refused.code == "forbidden"

    await org.api.delete(f"/orgs/{org.id}/api-keys/{created.body['id']}", expect=204)
    assert (await script.get(f"/orgs/{org.id}/events", expect=401)).code == "unauthenticated"


async def test_staff_api_key_cannot_write_events(org: Org, new_client: ClientFactory) -> None:
    created = await org.api.post(f"/orgs/{org.id}/api-keys", {"name": "door", "role": "staff"}, expect=201)
    script = await new_client()
    script.headers["Authorization"] = f"Bearer {created.body['secret']}"
    await script.get(f"/orgs/{org.id}/events", expect=200)
    assert (await script.post(f"/orgs/{org.id}/events", EVENT, expect=403)).code == "forbidden"


async def test_api_key_of_one_org_sees_nothing_of_another(
    org: Org, other_org: Org, new_client: ClientFactory
) -> None:
    created = await org.api.post(f"/orgs/{org.id}/api-keys", {"name": "ci", "role": "organiser"}, expect=201)
    script: Api = await new_client()
    script.headers["Authorization"] = f"Bearer {created.body['secret']}"
    assert (await script.get(f"/orgs/{other_org.id}", expect=404)).code == "not_found"
    assert (await script.post(f"/orgs/{other_org.id}/events", EVENT, expect=404)).code == "not_found"
    assert (await org.api.get(f"/orgs/{other_org.id}/members", expect=404)).code == "not_found"


async def test_members_and_keys_of_one_org_cannot_be_touched_from_another(org: Org, other_org: Org) -> None:
    key = (await org.api.post(f"/orgs/{org.id}/api-keys", {"name": "ci", "role": "staff"}, expect=201)).body
    staff = {"email": "s@example.com", "name": "S", "role": "staff", "password": PASSWORD}
    member = (await org.api.post(f"/orgs/{org.id}/members", staff, expect=201)).body
    for path in (f"/orgs/{org.id}/api-keys/{key['id']}", f"/orgs/{org.id}/members/{member['user_id']}"):
        assert (await other_org.api.delete(path, expect=404)).code == "not_found"
    # through their own organisation's path, our ids simply do not exist
    for path in (
        f"/orgs/{other_org.id}/api-keys/{key['id']}",
        f"/orgs/{other_org.id}/members/{member['user_id']}",
    ):
        assert (await other_org.api.delete(path, expect=404)).code == "not_found"
    assert (await other_org.api.get(f"/orgs/{org.id}/api-keys", expect=404)).code == "not_found"
    assert len((await org.api.get(f"/orgs/{org.id}/api-keys", expect=200)).body["items"]) == 1
    assert len((await org.api.get(f"/orgs/{org.id}/members", expect=200)).body["items"]) == 2
    listed = await other_org.api.get(f"/orgs/{other_org.id}/members", expect=200)
    assert [m["email"] for m in listed.body["items"]] == [other_org.email]
