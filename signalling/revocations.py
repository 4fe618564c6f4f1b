"""Ending live sessions when a ticket or a participant is revoked.

The control API writes a revocation record and announces it on ``vk:revocations``. Signalling
listens and disconnects the matching sockets at once, telling them why. Pub/sub can drop a
message while a listener reconnects, so a sweep also re-checks the records of every local
socket every ``sweep_s``: a missed announcement delays the end of a session, it never lets one
continue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import orjson
import redis.asyncio as aioredis
from prometheus_client import Counter

from control_api.revocation import CHANNEL, participant_key, ticket_key
from signalling.gateway import Connection, Gateway
from signalling.tasks import stop_tasks

log = logging.getLogger(__name__)

REASON: Final = "your ticket or access to this event was revoked"
ENDED = Counter("venuekit_signal_revoked_sessions_total", "Sockets disconnected because of a revocation")


def matches(conn: Connection, org_id: str, tickets: Iterable[str], participants: Iterable[str]) -> bool:
    admitted = conn.admitted
    if admitted.org_id != org_id:
        return False
    return admitted.member.participant_id in set(participants) or (
        admitted.ticket_id is not None and admitted.ticket_id in set(tickets)
    )


class RevocationEnforcer:
    """Owns the listener and the sweep; ``start``/``stop`` them with the runtime."""

    def __init__(
        self,
        redis: aioredis.Redis,
        gateway: Gateway,
        *,
        sweep_s: float = 30.0,
        on_erased: Callable[[Mapping[str, str]], None] | None = None,
    ) -> None:
        self._redis = redis
        self._gateway = gateway
        self._on_erased = on_erased
        self.sweep_s = sweep_s
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="revocations-listen"),
            asyncio.create_task(self._sweep_loop(), name="revocations-sweep"),
        ]

    async def stop(self) -> None:
        await stop_tasks(self._tasks)
        self._tasks = []

    async def end(self, conns: Iterable[Connection]) -> int:
        ended = 0
        for conn in list(conns):
            await self._gateway.emit(
                "removed",
                {"participant_id": conn.admitted.member.participant_id, "reason": REASON},
                to=conn.sid,
            )
            await self._gateway.disconnect(conn.sid)
            ended += 1
        ENDED.inc(ended)
        return ended

    async def apply(self, message: dict[str, Any]) -> int:
        org, tickets, participants = (
            message.get("org"),
            message.get("tickets", []),
            message.get("participants", []),
        )
        if not isinstance(org, str) or not isinstance(tickets, list) or not isinstance(participants, list):
            return 0
        erased = message.get("erased")
        if self._on_erased is not None and isinstance(erased, dict):
            # before the sockets end, so what their departure logs is already anonymous
            self._on_erased({str(k): str(v) for k, v in erased.items()})
        hit = [c for c in self._gateway.connections.values() if matches(c, org, tickets, participants)]
        return await self.end(hit)

    async def sweep(self) -> int:
        """Re-check every local socket's revocation records; end the revoked ones."""
        conns = list(self._gateway.connections.values())
        if not conns:
            return 0
        # as a context: a sweep cancelled at shutdown still releases its pipeline
        async with self._redis.pipeline(transaction=False) as pipe:
            for conn in conns:
                keys = [participant_key(conn.admitted.org_id, conn.admitted.member.participant_id)]
                if conn.admitted.ticket_id is not None:
                    keys.append(ticket_key(conn.admitted.org_id, conn.admitted.ticket_id))
                pipe.exists(*keys)
            found = await pipe.execute()
        return await self.end(c for c, hits in zip(conns, found, strict=True) if hits)

    async def _listen(self) -> None:
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        with contextlib.suppress(orjson.JSONDecodeError, TypeError):
                            await self.apply(orjson.loads(message["data"]))
            except (OSError, aioredis.RedisError) as exc:
                log.warning("revocation listener lost Redis (%s); the sweep covers the gap", exc)
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_s)
            with contextlib.suppress(OSError, aioredis.RedisError):
                await self.sweep()
