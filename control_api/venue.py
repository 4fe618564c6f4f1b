"""Store of events, their spaces, agenda and hackathon teams (the venue aggregate).

Layout, all in the organisation's hash slot:

- ``event:<id>`` — event record (JSON); ``events`` — zset of event ids by creation time
- ``event:<id>:capacity`` — hash ``capacity`` (mirrors the record, same script), ``sold``
- ``event:<id>:spaces`` / ``event:<id>:agenda`` / ``event:<id>:teams`` — hashes id -> JSON
- ``team:<id>:members`` — zset participant id -> join order; ``team:<id>:captain`` — string
- ``event:<id>:team-of`` — hash participant id -> team id (one team per participant and event)

Team changes are Lua scripts so that the size limit and the one-team rule hold under any
concurrency.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypedDict

import redis.asyncio as aioredis

from control_api.clock import format_ms
from control_api.ids import EventId, OrgId, ParticipantId, SpaceId, TeamId, new_id
from control_api.lifecycle import EventState
from control_api.problems import ApiError
from control_api.store import CAS_ATTEMPTS, dumps, event_capacity_key, get_json, loads, org_key, text

DEFAULT_TEAM_SIZE_MAX: Final = 5
TEAM_ROOM_CAPACITY_EXTRA: Final = 2
"""A team room holds the team plus a couple of mentors or organisers."""


class EventRecord(TypedDict):
    id: str
    org_id: str
    title: str
    description: str
    time_zone: str
    starts_at: str
    ends_at: str
    capacity: int
    team_size_max: int
    state: str
    created_at: str


class SpaceRecord(TypedDict):
    id: str
    event_id: str
    name: str
    kind: str
    capacity: int
    team_id: str | None


class AgendaRecord(TypedDict):
    id: str
    event_id: str
    title: str
    space_id: str
    starts_at: str
    ends_at: str


class TeamRecord(TypedDict):
    id: str
    event_id: str
    name: str
    size_max: int
    space_id: str


_UPDATE_EVENT: Final = """
-- KEYS: event, event capacity; ARGV: the event json as read, the new json, the new capacity
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local sold = tonumber(redis.call('HGET', KEYS[2], 'sold') or '0')
if tonumber(ARGV[3]) < sold then return -2 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], 'capacity', ARGV[3])
redis.call('HSETNX', KEYS[2], 'sold', 0)
return 1
"""

_CREATE_TEAM: Final = """
-- KEYS: teams hash, members zset, captain, team-of hash, spaces hash
-- ARGV: team id, team json, space id, space json, captain pid ('' for none), now
if ARGV[5] ~= '' and redis.call('HEXISTS', KEYS[4], ARGV[5]) == 1 then return 'already_in_team' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[5], ARGV[3], ARGV[4])
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[5])
  redis.call('HSET', KEYS[4], ARGV[5], ARGV[1])
  redis.call('SET', KEYS[3], ARGV[5])
end
return 'ok'
"""

_JOIN_TEAM: Final = """
-- KEYS: teams hash, members zset, captain, team-of hash
-- ARGV: team id, pid, size max, now
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 'not_found' end
if redis.call('HEXISTS', KEYS[4], ARGV[2]) == 1 then return 'already_in_team' end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 'team_full' end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
redis.call('HSET', KEYS[4], ARGV[2], ARGV[1])
if redis.call('EXISTS', KEYS[3]) == 0 then redis.call('SET', KEYS[3], ARGV[2]) end
return 'ok'
"""

_LEAVE_TEAM: Final = """
-- KEYS: teams hash, members zset, captain, team-of hash
-- ARGV: team id, pid, force ('1' lets an organiser remove the captain)
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 'not_found' end
if redis.call('HGET', KEYS[4], ARGV[2]) ~= ARGV[1] then return 'not_in_team' end
local captain = redis.call('GET', KEYS[3])
if captain == ARGV[2] and redis.call('ZCARD', KEYS[2]) > 1 and ARGV[3] ~= '1' then
  return 'captain_cannot_leave'
end
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[2])
if captain == ARGV[2] then
  local rest = redis.call('ZRANGE', KEYS[2], 0, 0)
  if rest[1] then redis.call('SET', KEYS[3], rest[1]) else redis.call('DEL', KEYS[3]) end
end
return 'ok'
"""

_UPDATE_SPACE: Final = """
-- KEYS: spaces hash, agenda hash
-- ARGV: space id, the space json as read, the new json, '1' when it stops being a stage
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 'retry' end
if ARGV[4] == '1' then
  for _, raw in ipairs(redis.call('HVALS', KEYS[2])) do
    if cjson.decode(raw)['space_id'] == ARGV[1] then return 'has_agenda' end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 'ok'
"""

_DELETE_SPACE: Final = """
-- KEYS: spaces hash, agenda hash; ARGV: space id
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 'not_found' end
if cjson.decode(raw)['kind'] == 'team_room' then return 'team_room' end
for _, item in ipairs(redis.call('HVALS', KEYS[2])) do
  if cjson.decode(item)['space_id'] == ARGV[1] then return 'has_agenda' end
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 'ok'
"""

_UPDATE_TEAM: Final = """
-- KEYS: teams hash, members zset, captain, team-of hash, spaces hash
-- ARGV: team id, team json as read, new team json, space id, space json as read, new space json,
--       new captain ('' keeps it), new size max
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 'retry' end
if redis.call('HGET', KEYS[5], ARGV[4]) ~= ARGV[5] then return 'retry' end
if ARGV[7] ~= '' and not redis.call('ZSCORE', KEYS[2], ARGV[7]) then return 'not_in_team' end
if redis.call('ZCARD', KEYS[2]) > tonumber(ARGV[8]) then return 'below_members' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[5], ARGV[4], ARGV[6])
if ARGV[7] ~= '' then redis.call('SET', KEYS[3], ARGV[7]) end
return 'ok'
"""

_DELETE_TEAM: Final = """
-- KEYS: teams hash, members zset, captain, team-of hash, spaces hash; ARGV: team id, space id
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 'not_found' end
for _, pid in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('HGET', KEYS[4], pid) == ARGV[1] then redis.call('HDEL', KEYS[4], pid) end
end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[2])
return 'ok'
"""

_TEAM_REFUSALS: Final = {
    "not_found": (404, "not_found"),
    "already_in_team": (409, "already_in_team"),
    "team_full": (409, "team_full"),
    "not_in_team": (409, "not_in_team"),
    "captain_cannot_leave": (409, "captain_cannot_leave"),
    "has_agenda": (409, "space_has_agenda"),
    "team_room": (409, "space_is_team_room"),
    "below_members": (409, "team_full"),
}


def _refuse(result: Any) -> None:
    outcome = text(result)
    if outcome != "ok":
        status, code = _TEAM_REFUSALS[outcome or "not_found"]
        raise ApiError(status, code)


class VenueStore:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._update_event = redis.register_script(_UPDATE_EVENT)
        self._create_team = redis.register_script(_CREATE_TEAM)
        self._join_team = redis.register_script(_JOIN_TEAM)
        self._leave_team = redis.register_script(_LEAVE_TEAM)
        self._update_space = redis.register_script(_UPDATE_SPACE)
        self._delete_space = redis.register_script(_DELETE_SPACE)
        self._update_team = redis.register_script(_UPDATE_TEAM)
        self._delete_team = redis.register_script(_DELETE_TEAM)

    # events

    async def create_event(self, org_id: OrgId, fields: dict[str, Any], now_ms: int) -> EventRecord:
        event_id = EventId(new_id("evt"))
        record: EventRecord = {
            "id": event_id,
            "org_id": org_id,
            "title": fields["title"],
            "description": fields.get("description", ""),
            "time_zone": fields["time_zone"],
            "starts_at": fields["starts_at"],
            "ends_at": fields["ends_at"],
            "capacity": fields["capacity"],
            "team_size_max": fields.get("team_size_max", DEFAULT_TEAM_SIZE_MAX),
            "state": EventState.DRAFT.value,
            "created_at": format_ms(now_ms),
        }
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(org_key(org_id, "event", event_id), dumps(record))
        pipe.hset(event_capacity_key(org_id, event_id), mapping={"capacity": record["capacity"], "sold": 0})
        pipe.zadd(org_key(org_id, "events"), {event_id: now_ms})
        await pipe.execute()
        return record

    async def event(self, org_id: OrgId, event_id: EventId) -> EventRecord:
        found: EventRecord | None = await get_json(self._redis, org_key(org_id, "event", event_id))
        if found is None:
            raise ApiError(404, "not_found", "no such event")
        return found

    async def events(self, org_id: OrgId) -> list[EventRecord]:
        ids = [text(i) or "" for i in await self._redis.zrange(org_key(org_id, "events"), 0, -1)]
        if not ids:
            return []
        raws = await self._redis.mget([org_key(org_id, "event", i) for i in ids])
        return [loads(raw) for raw in raws if raw is not None]

    async def update_event(
        self, org_id: OrgId, event_id: EventId, change: Callable[[EventRecord], EventRecord]
    ) -> EventRecord:
        """Apply a pure ``change(record) -> record`` with compare-and-set; the event's capacity
        follows the record and may not drop below the tickets sold (``capacity_below_sold``)."""
        key = org_key(org_id, "event", event_id)
        for _ in range(CAS_ATTEMPTS):
            raw = await self._redis.get(key)
            if raw is None:
                raise ApiError(404, "not_found", "no such event")
            updated = change(loads(raw))
            result = await self._update_event(
                keys=[key, event_capacity_key(org_id, event_id)],
                args=[raw, dumps(updated), updated["capacity"]],
            )
            if result == -2:
                raise ApiError(409, "capacity_below_sold")
            if result == 1:
                return updated
        raise ApiError(409, "conflict", "the event changed too often while updating it; try again")

    # spaces and agenda

    async def add_space(
        self, org_id: OrgId, event_id: EventId, name: str, kind: str, capacity: int
    ) -> SpaceRecord:
        record: SpaceRecord = {
            "id": new_id("spc"),
            "event_id": event_id,
            "name": name,
            "kind": kind,
            "capacity": capacity,
            "team_id": None,
        }
        await self._redis.hset(org_key(org_id, "event", event_id, "spaces"), record["id"], dumps(record))
        return record

    async def spaces(self, org_id: OrgId, event_id: EventId) -> list[SpaceRecord]:
        raw = await self._redis.hgetall(org_key(org_id, "event", event_id, "spaces"))
        records: list[SpaceRecord] = [loads(v) for v in raw.values()]
        return sorted(records, key=lambda s: (s["kind"], s["name"], s["id"]))

    async def space(self, org_id: OrgId, event_id: EventId, space_id: SpaceId) -> SpaceRecord | None:
        raw = await self._redis.hget(org_key(org_id, "event", event_id, "spaces"), space_id)
        return None if raw is None else loads(raw)

    async def update_space(
        self, org_id: OrgId, event_id: EventId, space_id: SpaceId, changes: dict[str, Any]
    ) -> SpaceRecord:
        """Rename, resize or re-kind (stage <-> room) a space; a team room keeps its kind, and a
        stage with agenda sessions stays a stage (``space_has_agenda``)."""
        key = org_key(org_id, "event", event_id, "spaces")
        for _ in range(CAS_ATTEMPTS):
            raw = await self._redis.hget(key, space_id)
            if raw is None:
                raise ApiError(404, "not_found", "no such space")
            record: SpaceRecord = loads(raw)
            if "kind" in changes and changes["kind"] != record["kind"] and record["kind"] == "team_room":
                raise ApiError(409, "space_is_team_room", "a team room's kind cannot change")
            updated: SpaceRecord = {**record, **changes}  # type: ignore[typeddict-item]
            leaves_stage = record["kind"] == "stage" and updated["kind"] != "stage"
            result = text(
                await self._update_space(
                    keys=[key, org_key(org_id, "event", event_id, "agenda")],
                    args=[space_id, raw, dumps(updated), "1" if leaves_stage else "0"],
                )
            )
            if result != "retry":
                _refuse(result)
                return updated
        raise ApiError(409, "conflict", "the space changed too often while updating it; try again")

    async def delete_space(self, org_id: OrgId, event_id: EventId, space_id: SpaceId) -> None:
        keys = [org_key(org_id, "event", event_id, "spaces"), org_key(org_id, "event", event_id, "agenda")]
        _refuse(await self._delete_space(keys=keys, args=[space_id]))

    async def add_agenda_item(self, org_id: OrgId, event_id: EventId, fields: dict[str, Any]) -> AgendaRecord:
        record: AgendaRecord = {
            "id": new_id("ses"),
            "event_id": event_id,
            "title": fields["title"],
            "space_id": fields["space_id"],
            "starts_at": fields["starts_at"],
            "ends_at": fields["ends_at"],
        }
        await self._redis.hset(org_key(org_id, "event", event_id, "agenda"), record["id"], dumps(record))
        return record

    async def agenda(self, org_id: OrgId, event_id: EventId) -> list[AgendaRecord]:
        raw = await self._redis.hgetall(org_key(org_id, "event", event_id, "agenda"))
        return [loads(v) for v in raw.values()]

    # teams

    def _team_keys(self, org_id: OrgId, event_id: EventId, team_id: str) -> list[str]:
        return [
            org_key(org_id, "event", event_id, "teams"),
            org_key(org_id, "team", team_id, "members"),
            org_key(org_id, "team", team_id, "captain"),
            org_key(org_id, "event", event_id, "team-of"),
        ]

    async def create_team(
        self, org_id: OrgId, event: EventRecord, name: str, captain: ParticipantId | None, now_ms: int
    ) -> TeamId:
        """A team with its team room; the captain (a ticket holder) joins it at once."""
        event_id = EventId(event["id"])
        team_id = TeamId(new_id("team"))
        space: SpaceRecord = {
            "id": new_id("spc"),
            "event_id": event_id,
            "name": name,
            "kind": "team_room",
            "capacity": event["team_size_max"] + TEAM_ROOM_CAPACITY_EXTRA,
            "team_id": team_id,
        }
        team: TeamRecord = {
            "id": team_id,
            "event_id": event_id,
            "name": name,
            "size_max": event["team_size_max"],
            "space_id": space["id"],
        }
        keys = [*self._team_keys(org_id, event_id, team_id), org_key(org_id, "event", event_id, "spaces")]
        args: list[str | bytes | int] = [
            team_id,
            dumps(team),
            space["id"],
            dumps(space),
            captain or "",
            now_ms,
        ]
        _refuse(await self._create_team(keys=keys, args=args))
        return team_id

    async def join_team(
        self, org_id: OrgId, event: EventRecord, team_id: TeamId, participant: ParticipantId, now_ms: int
    ) -> None:
        size_max = await self._team_size_max(org_id, EventId(event["id"]), team_id)
        keys = self._team_keys(org_id, EventId(event["id"]), team_id)
        _refuse(await self._join_team(keys=keys, args=[team_id, participant, size_max, now_ms]))

    async def leave_team(
        self, org_id: OrgId, event_id: EventId, team_id: TeamId, participant: ParticipantId, *, force: bool
    ) -> None:
        keys = self._team_keys(org_id, event_id, team_id)
        _refuse(await self._leave_team(keys=keys, args=[team_id, participant, "1" if force else "0"]))

    async def update_team(
        self,
        org_id: OrgId,
        event_id: EventId,
        team_id: TeamId,
        *,
        name: str | None = None,
        captain: ParticipantId | None = None,
        size_max: int | None = None,
    ) -> None:
        """Rename (the team room too), hand the captaincy to a member, or change the size limit
        (never below the members it has: ``team_full``) in one atomic step."""
        teams_key = org_key(org_id, "event", event_id, "teams")
        spaces_key = org_key(org_id, "event", event_id, "spaces")
        for _ in range(CAS_ATTEMPTS):
            raw = await self._redis.hget(teams_key, team_id)
            if raw is None:
                raise ApiError(404, "not_found", "no such team")
            team: TeamRecord = loads(raw)
            raw_space = await self._redis.hget(spaces_key, team["space_id"])
            if raw_space is None:
                raise ApiError(409, "conflict", "the team has no team room")
            space: SpaceRecord = loads(raw_space)
            team = {**team, "name": name or team["name"], "size_max": size_max or team["size_max"]}
            space = {**space, "name": team["name"]}
            keys = [*self._team_keys(org_id, event_id, team_id), spaces_key]
            args: list[str | bytes | int] = [
                team_id,
                raw,
                dumps(team),
                team["space_id"],
                raw_space,
                dumps(space),
                captain or "",
                team["size_max"],
            ]
            result = text(await self._update_team(keys=keys, args=args))
            if result != "retry":
                _refuse(result)
                return
        raise ApiError(409, "conflict", "the team changed too often while updating it; try again")

    async def delete_team(self, org_id: OrgId, event_id: EventId, team_id: TeamId) -> list[ParticipantId]:
        """Remove a team, its memberships and its team room; returns the members it had."""
        raw = await self._redis.hget(org_key(org_id, "event", event_id, "teams"), team_id)
        if raw is None:
            raise ApiError(404, "not_found", "no such team")
        team: TeamRecord = loads(raw)
        members = await self._redis.zrange(org_key(org_id, "team", team_id, "members"), 0, -1)
        keys = [*self._team_keys(org_id, event_id, team_id), org_key(org_id, "event", event_id, "spaces")]
        _refuse(await self._delete_team(keys=keys, args=[team_id, team["space_id"]]))
        return [ParticipantId(text(m) or "") for m in members]

    async def _team_size_max(self, org_id: OrgId, event_id: EventId, team_id: TeamId) -> int:
        raw = await self._redis.hget(org_key(org_id, "event", event_id, "teams"), team_id)
        if raw is None:
            raise ApiError(404, "not_found", "no such team")
        team: TeamRecord = loads(raw)
        return team["size_max"]

    async def team(self, org_id: OrgId, event_id: EventId, team_id: TeamId) -> dict[str, Any]:
        """The public view of a team: its record plus captain and members in join order."""
        raw = await self._redis.hget(org_key(org_id, "event", event_id, "teams"), team_id)
        if raw is None:
            raise ApiError(404, "not_found", "no such team")
        return await self._team_view(org_id, loads(raw))

    async def _team_view(self, org_id: OrgId, team: TeamRecord) -> dict[str, Any]:
        members = await self._redis.zrange(org_key(org_id, "team", team["id"], "members"), 0, -1)
        captain = text(await self._redis.get(org_key(org_id, "team", team["id"], "captain")))
        return {**team, "captain": captain, "members": [text(m) for m in members]}

    async def teams(self, org_id: OrgId, event_id: EventId) -> list[dict[str, Any]]:
        raw = await self._redis.hgetall(org_key(org_id, "event", event_id, "teams"))
        teams: list[TeamRecord] = sorted((loads(v) for v in raw.values()), key=lambda t: t["id"])
        return [await self._team_view(org_id, t) for t in teams]

    async def teams_of(self, org_id: OrgId, event_id: EventId, participant: ParticipantId) -> list[TeamId]:
        found = text(await self._redis.hget(org_key(org_id, "event", event_id, "team-of"), participant))
        return [] if found is None else [TeamId(found)]
