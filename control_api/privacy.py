"""GDPR in the control API: consent records, finding what is held about a person, the access
export, erasure, per-organisation retention settings and the audit log (docs/privacy.md).

A *subject* is one person as one organisation knows them: the orders bought with their e-mail,
the tickets of those orders, their membership (when they have an account), and the participant
ids all of these gave them in the organisation's events. Chat and analytics are not the control
API's: what they hold is reached through :class:`PersonalDataHolder`, implemented by those
packages and wired in by the composition root.

Erasure keeps every financial and counting record and removes what identifies the person:

- the order's buyer (``pii:order:<id>``) is deleted, the order itself (amounts, currency,
  state, dates) is kept; tickets are revoked and their participant id replaced by an
  anonymous id (``anon_<16 hex>``, an HMAC of the participant id under the secret key, so a
  retried erasure picks the same anonymous id and a person still counts once);
- every holder rewrites or deletes what it keeps about those participant ids;
- consent records, team places, the membership and its participant ids are deleted;
- a self-service erasure also deletes the account (profile, password, sessions, indexes).

Layout, in the organisation's slot: ``consent:<participant>`` (list of JSON consent records),
``privacy`` (hash: retention settings), ``audit`` (stream). Global: ``vk:privacy-limit:<who>``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypedDict

import orjson
import redis.asyncio as aioredis

from control_api.accounts import AccountStore
from control_api.clock import format_ms
from control_api.ids import EventId, OrgId, ParticipantId, UserId
from control_api.problems import ApiError
from control_api.revocation import announce, participant_key, ticket_key
from control_api.roles import Role
from control_api.store import dumps, global_key, loads, org_key, text
from control_api.ticketing import OrderRecord, TicketingStore, TicketRecord, buyer_orgs_key, ticket_state
from control_api.venue import VenueStore

DAY_MS: Final = 86_400_000
AUDIT_MAX_LEN: Final = 100_000
RATE_LIMIT: Final = 20
RATE_WINDOW_S: Final = 3600
ERASED_NAME: Final = "Erased participant"


class PersonalDataHolder(Protocol):
    """A package that keeps data about participants (chat, analytics, the venue log)."""

    @property
    def section(self) -> str:
        """The export's key for what this holder returns (``chat_messages``, ``attendance``)."""
        ...

    async def export(self, event_id: str, participant_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Everything kept about these participants of ``event_id``, JSON-ready."""
        ...

    async def erase(self, event_id: str, renames: Mapping[str, str]) -> int:
        """Delete, or re-key to the anonymous id, what is kept about each participant id of
        ``renames`` (participant id -> anonymous id); idempotent. Returns how much changed."""
        ...


class RetentionSettings(TypedDict):
    chat_days: int
    analytics_days: int
    recordings_days: int


DEFAULT_RETENTION: Final[RetentionSettings] = {"chat_days": 365, "analytics_days": 730, "recordings_days": 90}


@dataclass(frozen=True, slots=True)
class Consent:
    """What a participant agreed to when joining, with the version of the terms shown."""

    version: str
    terms: bool
    recording: bool
    analytics: bool
    at_ms: int

    def record(self, event_id: str) -> dict[str, Any]:
        return {
            "event_id": event_id,
            "version": self.version,
            "terms": self.terms,
            "recording": self.recording,
            "analytics": self.analytics,
            "at": format_ms(self.at_ms),
        }


@dataclass(slots=True)
class Subject:
    """One person in one organisation: how they were found and everything that names them."""

    org_id: OrgId
    email: str
    user_id: UserId | None = None
    role: Role | None = None
    orders: list[OrderRecord] = field(default_factory=list)
    buyers: dict[str, dict[str, str]] = field(default_factory=dict)
    tickets: list[TicketRecord] = field(default_factory=list)
    participants: dict[str, str] = field(default_factory=dict)
    """Participant id -> event id."""
    user_pid_fields: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.role is None and not self.orders and not self.participants


@dataclass(frozen=True, slots=True)
class AuditActor:
    """Who asked: an organisation member, an API key, or the person themselves."""

    kind: str
    id: str = ""


async def retention_settings(redis: aioredis.Redis, org_id: OrgId) -> RetentionSettings:
    """An organisation's retention periods (the defaults where it set none)."""
    raw = await redis.hgetall(org_key(org_id, "privacy"))
    stored = {text(k) or "": int(text(v) or 0) for k, v in raw.items()}
    return {
        "chat_days": stored.get("chat_days", DEFAULT_RETENTION["chat_days"]),
        "analytics_days": stored.get("analytics_days", DEFAULT_RETENTION["analytics_days"]),
        "recordings_days": stored.get("recordings_days", DEFAULT_RETENTION["recordings_days"]),
    }


def _same_email(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


class PrivacyService:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        accounts: AccountStore,
        ticketing: TicketingStore,
        venue: VenueStore,
        secret_key: bytes,
        holders: Sequence[PersonalDataHolder] = (),
    ) -> None:
        self._redis = redis
        self._accounts = accounts
        self._ticketing = ticketing
        self._venue = venue
        self._secret = secret_key
        self.holders = tuple(holders)

    # identifiers ---------------------------------------------------------------------------------

    def anonymous_id(self, org_id: str, participant_id: str) -> str:
        """The id a participant's analytics carry once they are erased: stable, unlinkable."""
        mac = hmac.new(self._secret, f"anon:{org_id}:{participant_id}".encode(), hashlib.sha256)
        return "anon_" + mac.hexdigest()[:16]

    def subject_digest(self, org_id: str, email: str) -> str:
        """How the audit log names a person: a keyed digest of the e-mail, never the e-mail."""
        mac = hmac.new(self._secret, f"subject:{org_id}:{email.strip().lower()}".encode(), hashlib.sha256)
        return mac.hexdigest()[:24]

    # consent -------------------------------------------------------------------------------------

    async def record_consent(self, org_id: OrgId, event_id: str, participant: str, consent: Consent) -> None:
        await self._redis.rpush(org_key(org_id, "consent", participant), dumps(consent.record(event_id)))

    async def consents(self, org_id: OrgId, participant: str) -> list[dict[str, Any]]:
        raw = await self._redis.lrange(org_key(org_id, "consent", participant), 0, -1)
        return [loads(r) for r in raw]

    async def analytics_allowed(self, org_id: OrgId, participant: str) -> bool:
        """The participant's latest answer about analytics (True when never asked)."""
        latest = await self._redis.lindex(org_key(org_id, "consent", participant), -1)
        return True if latest is None else bool(loads(latest)["analytics"])

    # rate limit ----------------------------------------------------------------------------------

    async def check_rate(self, who: str) -> None:
        """At most :data:`RATE_LIMIT` export/erasure requests per hour per caller."""
        key = global_key("privacy-limit", hashlib.sha256(who.encode()).hexdigest()[:32])
        pipe = self._redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, RATE_WINDOW_S, nx=True)
        count, _ = await pipe.execute()
        if int(count) > RATE_LIMIT:
            ttl = await self._redis.ttl(key)
            raise ApiError(
                429,
                "privacy_rate_limited",
                f"at most {RATE_LIMIT} privacy requests per hour",
                headers={"Retry-After": str(max(1, int(ttl)))},
            )

    # finding a subject ---------------------------------------------------------------------------

    async def find(self, org_id: OrgId, email: str, user_id: UserId | None = None) -> Subject:
        """Everything ``org_id`` holds that names the person with this e-mail (or account)."""
        subject = Subject(org_id, email.strip())
        account = user_id or await self._accounts.user_by_email(email)
        if account is not None:
            role = await self._accounts.role_in(org_id, account)
            if role is not None:
                subject.user_id, subject.role = account, role
                pids_key = org_key(org_id, "user-pids")
                prefix = f"{account}:"
                for raw_field, raw_pid in (await self._redis.hgetall(pids_key)).items():
                    name = text(raw_field) or ""
                    if name.startswith(prefix):
                        subject.user_pid_fields.append(name)
                        event_id = EventId(name[len(prefix) :])
                        subject.participants[ParticipantId(text(raw_pid) or "")] = event_id
        for event in await self._venue.events(org_id):
            orders = await self._ticketing.orders(org_id, EventId(event["id"]))
            if not orders:
                continue
            pipe = self._redis.pipeline(transaction=False)
            for order in orders:
                pipe.hmget(org_key(org_id, "pii", "order", order["id"]), ["name", "email"])
            for order, (name, mail) in zip(orders, await pipe.execute(), strict=True):
                if mail is not None and _same_email(text(mail) or "", email):
                    subject.orders.append(order)
                    subject.buyers[order["id"]] = {"name": text(name) or "", "email": text(mail) or ""}
        for order in subject.orders:
            for ticket in await self._ticketing.tickets(org_id, order["ticket_ids"]):
                subject.tickets.append(ticket)
                subject.participants[ParticipantId(ticket["participant_id"])] = EventId(ticket["event_id"])
        return subject

    async def orgs_of(self, user_id: UserId, email: str) -> list[OrgId]:
        """Organisations that may hold data about an account: memberships and purchases."""
        found = {OrgId(m["org_id"]) for m in await self._accounts.memberships(user_id)}
        found |= {OrgId(text(o) or "") for o in await self._redis.smembers(buyer_orgs_key(email))}
        return sorted(found)

    # access ----------------------------------------------------------------------------------------

    async def export_org(self, subject: Subject) -> dict[str, Any]:
        """The organisation's part of an access export."""
        orders_by_id = {o["id"]: o for o in subject.orders}
        by_event: dict[str, list[str]] = {}
        for pid, event in sorted(subject.participants.items()):
            by_event.setdefault(event, []).append(pid)
        participants = []
        consents: list[dict[str, Any]] = []
        for pid, event_id in sorted(subject.participants.items()):
            teams = await self._venue.teams_of(subject.org_id, EventId(event_id), ParticipantId(pid))
            participants.append(
                {"participant_id": pid, "event_id": event_id, "team_id": teams[0] if teams else None}
            )
            consents += [{"participant_id": pid, **c} for c in await self.consents(subject.org_id, pid)]
        section: dict[str, Any] = {
            "org_id": subject.org_id,
            "membership": subject.role.value if subject.role else None,
            "orders": [{**o, "buyer": subject.buyers[o["id"]]} for o in subject.orders],
            "tickets": [
                {**t, "state": ticket_state(t, orders_by_id[t["order_id"]])}
                for t in subject.tickets
                if t["order_id"] in orders_by_id
            ],
            "participants": participants,
            "consents": consents,
        }
        for holder in self.holders:
            items: list[dict[str, Any]] = []
            for event, pids in sorted(by_event.items()):
                items += [{"event_id": event, **item} for item in await holder.export(event, pids)]
            section[holder.section] = items
        return section

    async def profile(self, user_id: UserId) -> dict[str, Any]:
        email, name = await self._accounts.profile(user_id)
        created = text(await self._redis.hget(global_key("user", user_id), "created_at_ms"))
        return {
            "user_id": user_id,
            "email": email,
            "name": name,
            "created_at": format_ms(int(created)) if created else None,
            "memberships": await self._accounts.memberships(user_id),
        }

    # erasure ---------------------------------------------------------------------------------------

    async def erase_in_org(self, subject: Subject) -> dict[str, int]:
        """Erase the subject's personal data in one organisation (keeps financial records).

        Safe to run again after a crash: the anonymous ids are derived, and what finds the
        subject (buyer records, participant-id mapping) is deleted last.
        """
        org_id = subject.org_id
        renames = {pid: self.anonymous_id(org_id, pid) for pid in subject.participants}
        ticket_ids = [t["id"] for t in subject.tickets]
        pipe = self._redis.pipeline(transaction=False)
        for ticket_id in ticket_ids:
            pipe.set(ticket_key(org_id, ticket_id), "1")
        for pid in renames:
            pipe.set(participant_key(org_id, pid), "1")
        await pipe.execute()
        # Live sessions end now, and signalling logs what follows under the anonymous ids.
        await announce(self._redis, org_id, tickets=ticket_ids, participants=list(renames), erased=renames)
        changed = await self._erase_events(subject, renames)
        pipe = self._redis.pipeline(transaction=False)
        for ticket in subject.tickets:
            anonymous = {**ticket, "participant_id": renames[ticket["participant_id"]], "revoked": True}
            pipe.set(org_key(org_id, "ticket", ticket["id"]), dumps(anonymous))
        for pid in renames:
            pipe.delete(org_key(org_id, "consent", pid))
        await pipe.execute()
        if subject.user_id is not None:
            # single sign-on grants of this user (``control_api.sso``: ``<user>:<ticket type>``)
            grants = org_key(org_id, "sso-grants")
            mine = [
                f
                for f in (text(k) or "" for k in await self._redis.hkeys(grants))
                if f.startswith(f"{subject.user_id}:")
            ]
            if mine:
                await self._redis.hdel(grants, *mine)
        if subject.user_id is not None and subject.role is not None:
            if subject.user_pid_fields:
                await self._redis.hdel(org_key(org_id, "user-pids"), *subject.user_pid_fields)
            await self._redis.hdel(org_key(org_id, "members"), subject.user_id)
            await self._redis.hdel(global_key("user", subject.user_id, "orgs"), org_id)
        if subject.orders:
            await self._redis.delete(*(org_key(org_id, "pii", "order", o["id"]) for o in subject.orders))
        await self._redis.srem(buyer_orgs_key(subject.email), org_id)
        return {
            "orders_anonymised": len(subject.orders),
            "tickets_revoked": len(subject.tickets),
            "participants_erased": len(renames),
            "records_changed": changed,
        }

    async def _erase_events(self, subject: Subject, renames: Mapping[str, str]) -> int:
        """Every holder's part, event by event, and the subject's team places."""
        changed = 0
        by_event: dict[str, dict[str, str]] = {}
        for pid, event_id in subject.participants.items():
            by_event.setdefault(event_id, {})[pid] = renames[pid]
        for event_id, event_renames in sorted(by_event.items()):
            for holder in self.holders:
                changed += await holder.erase(event_id, event_renames)
            for renamed in event_renames:
                event, participant = EventId(event_id), ParticipantId(renamed)
                for team_id in await self._venue.teams_of(subject.org_id, event, participant):
                    with contextlib.suppress(ApiError):  # left meanwhile
                        await self._venue.leave_team(subject.org_id, event, team_id, participant, force=True)
        return changed

    async def erase_account(self, user_id: UserId, email: str) -> None:
        """Delete the account itself: profile, password, sessions, memberships index, e-mail."""
        async for key in self._redis.scan_iter(match=global_key("session", "*"), count=1000):
            raw = await self._redis.get(key)
            if raw is not None and loads(raw).get("user_id") == user_id:
                await self._redis.delete(key)
        async for key in self._redis.scan_iter(match=global_key("sso-identity", "*"), count=1000):
            if text(await self._redis.get(key)) == user_id:  # provider identities linked to it
                await self._redis.delete(key)
        email_digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        await self._redis.delete(
            global_key("user", user_id),
            global_key("user", user_id, "pii"),
            global_key("user", user_id, "orgs"),
            global_key("user-email", email_digest),
            global_key("login-fail", "email", hashlib.sha256(email.lower().encode()).hexdigest()[:32]),
            buyer_orgs_key(email),
        )

    # settings --------------------------------------------------------------------------------------

    async def settings(self, org_id: OrgId) -> RetentionSettings:
        return await retention_settings(self._redis, org_id)

    async def set_settings(self, org_id: OrgId, changes: Mapping[str, int]) -> RetentionSettings:
        if changes:
            await self._redis.hset(
                org_key(org_id, "privacy"), mapping={k: int(v) for k, v in changes.items()}
            )
        return await self.settings(org_id)

    # audit -------------------------------------------------------------------------------------------

    async def audit(
        self,
        org_id: OrgId,
        *,
        action: str,
        actor: AuditActor,
        subject: str,
        at_ms: int,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        await self._redis.xadd(
            org_key(org_id, "audit"),
            {
                "at_ms": str(at_ms),
                "action": action,
                "actor_kind": actor.kind,
                "actor_id": actor.id,
                "subject": subject,
                "detail": orjson.dumps(dict(detail or {})),
            },
            maxlen=AUDIT_MAX_LEN,
            approximate=True,
        )

    async def audit_log(self, org_id: OrgId, limit: int) -> list[dict[str, Any]]:
        """Newest entries first."""
        entries: Any = await self._redis.xrevrange(org_key(org_id, "audit"), count=limit)
        result = []
        for entry_id, raw in entries:
            f = {text(k) or "": v for k, v in raw.items()}
            result.append(
                {
                    "id": text(entry_id),
                    "at": format_ms(int(text(f["at_ms"]) or 0)),
                    "action": text(f["action"]),
                    "actor": {"kind": text(f["actor_kind"]), "id": text(f["actor_id"]) or None},
                    "subject": text(f["subject"]),
                    "detail": loads(f["detail"]),
                }
            )
        return result
