"""Revocation records: what a join-token verifier checks in Redis before admitting anyone.

Revoking a ticket (or cancelling/refunding its order) writes
``vk:{org:<id>}:revoked:ticket:<ticket id>`` and ``...:revoked:participant:<sha256(participant id)>``;
removing a member writes the participant records of every event they had a participant id
in. Records are permanent (they are tiny) and ids are never reused. :func:`is_revoked` is
the check signalling runs on every join; :data:`CHANNEL` carries an announcement of each
revocation so that signalling can end live sessions at once (:func:`announce`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Iterable, Mapping
from typing import TYPE_CHECKING, Final, Protocol

import orjson

from control_api.ids import OrgId
from control_api.store import global_key, org_key
from control_api.tokens import JoinClaims

if TYPE_CHECKING:
    import redis.asyncio as aioredis

CHANNEL: Final = global_key("revocations")
"""Pub/sub channel; each message is JSON ``{"org", "tickets": [...], "participants": [...]}``
(plus ``"erased": {participant id: anonymous id}`` when a person's data is erased)."""


class ExistsReader(Protocol):
    """The one Redis call the check needs (``redis.asyncio.Redis`` satisfies it)."""

    def exists(self, *names: str) -> Awaitable[int]: ...


if TYPE_CHECKING:

    def _redis_is_an_exists_reader(client: aioredis.Redis) -> ExistsReader:
        return client


def ticket_key(org_id: OrgId | str, ticket_id: str) -> str:
    return org_key(OrgId(org_id), "revoked", "ticket", ticket_id)


def participant_key(org_id: OrgId | str, participant_id: str) -> str:
    """Named by a digest of the participant id, so that the record of an erased person holds
    no trace of their id (docs/privacy.md)."""
    digest = hashlib.sha256(participant_id.encode()).hexdigest()[:32]
    return org_key(OrgId(org_id), "revoked", "participant", digest)


async def is_revoked(redis: ExistsReader, claims: JoinClaims) -> bool:
    """True when the token's ticket or participant was revoked after it was issued."""
    keys = [participant_key(claims.org_id, claims.participant_id)]
    if claims.ticket_id is not None:
        keys.append(ticket_key(claims.org_id, claims.ticket_id))
    return await redis.exists(*keys) > 0


async def announce(
    redis: aioredis.Redis,
    org_id: OrgId,
    *,
    tickets: Iterable[str] = (),
    participants: Iterable[str] = (),
    erased: Mapping[str, str] | None = None,
) -> None:
    """Tell every listener (signalling) to end the live sessions of these tickets/participants.

    ``erased`` (participant id -> anonymous id) names participants whose data is being erased:
    from now on, what signalling still logs about them carries the anonymous id.
    """
    message: dict[str, object] = {"org": org_id, "tickets": list(tickets), "participants": list(participants)}
    if erased:
        message["erased"] = dict(erased)
    await redis.publish(CHANNEL, orjson.dumps(message))
