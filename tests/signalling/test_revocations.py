"""Revocations end live sessions: by announcement, and by the sweep when an announcement is lost."""

from __future__ import annotations

import asyncio

import aiohttp
import redis.asyncio as aioredis

from control_api.revocation import ticket_key
from signalling.revocations import RevocationEnforcer
from tests.signalling.test_runtime import _connect, _instance


async def test_the_sweep_ends_a_session_whose_announcement_was_missed(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    inst = await _instance(redis_url, "sig-rev")
    assert inst.runtime.gateway is not None
    enforcer = RevocationEnforcer(inst.redis, inst.runtime.gateway, sweep_s=3600)
    try:
        async with aiohttp.ClientSession() as session:
            kept = await _connect(session, inst, "kim:attendee")
            doomed = await _connect(session, inst, "lou:attendee")
            assert await enforcer.sweep() == 0
            # TokenAdmitter gives no ticket ids; revoke Lou as a participant instead
            from control_api.revocation import participant_key

            await redis_client.set(participant_key("org", "lou"), "1")
            await redis_client.set(ticket_key("org", "unrelated"), "1")
            assert await enforcer.sweep() == 1
            await asyncio.wait_for(doomed.lean.closed.wait(), 10)
            assert any(name == "removed" for name, _ in doomed.events)
            assert kept.lean.connected
            assert await enforcer.apply({"org": "other-org", "tickets": [], "participants": ["kim"]}) == 0
            assert await enforcer.apply({"org": "org", "tickets": [], "participants": ["kim"]}) == 1
            await kept.lean.close()
            await doomed.lean.close()  # the server closed it; release the client side too
    finally:
        await inst.runtime.stop()
        await inst.server.close()
        await inst.redis.aclose()
