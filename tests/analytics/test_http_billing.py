"""Billing and engagement through the real control API: JSON, CSV, traceable, tenant-isolated."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

from analytics.attendance import AnalyticsEvent, ParticipantId, SpaceId, people_of
from analytics.billing import bill_event
from analytics.service import AnalyticsService
from analytics.worker import AnalyticsWorker
from control_api.clock import format_ms
from tests.analytics.scenario import START_MS, scenario, write_log
from tests.control_api.conftest import ClientFactory, build_root, clients_of, make_org

EVENT_BODY = {
    "title": "Hack Week",
    "time_zone": "Europe/Berlin",
    "starts_at": "2030-05-01T09:00:00+02:00",
    "ends_at": "2030-05-03T18:00:00+02:00",
    "capacity": 500,
}


@pytest.fixture
async def new_client(redis_client: aioredis.Redis) -> AsyncIterator[ClientFactory]:
    srv = TestServer(build_root(redis_client, analytics=AnalyticsService(redis_client)), host="127.0.0.1")
    await srv.start_server()
    async with clients_of(srv) as make:
        yield make
    await srv.close()


def _iso(ms: int) -> str:
    return format_ms(ms)


async def test_billing_exports_exact_traceable_figures_to_their_org_only(
    redis_client: aioredis.Redis, new_client: ClientFactory
) -> None:
    acme = await make_org(new_client, "Acme")
    globex = await make_org(new_client, "Globex")
    event_id = (await acme.api.post(f"/orgs/{acme.id}/events", EVENT_BODY, expect=201)).body["id"]
    events, truth = scenario(11, people=6, steps=150, declined=frozenset({"p0"}))
    await write_log(redis_client, event_id, events)
    await AnalyticsWorker(redis_client, consumer="w").drain()

    end = max(e.at_ms for e in events)
    period = {"from": _iso(START_MS - 1000), "to": _iso(end + 1000)}
    query = f"from={period['from']}&to={period['to']}"
    org_bill = (await acme.api.get(f"/orgs/{acme.id}/billing?{query}", expect=200)).body
    want = bill_event(event_id, people_of(events), START_MS - 1000, end + 1000, end)
    [line] = org_bill["lines"]
    assert line["event_id"] == event_id
    assert line["unique_participants"] == want.unique_participants == len(truth.online_ms)
    assert line["participant_minutes"] == round(sum(truth.online_ms.values()) / 60_000, 3)
    assert org_bill["freshness"]["lag_entries"] == 0

    detail = (await acme.api.get(f"/orgs/{acme.id}/events/{event_id}/billing?{query}", expect=200)).body
    assert detail["unique_participants"] == line["unique_participants"]
    by_person = {p["participant_id"]: p for p in detail["participants"]}
    assert "p0" in by_person, "a participant who declined analytics is still billed"
    assert sum(
        round(s["minutes"], 3) for p in detail["participants"] for s in p["sessions"]
    ) == pytest.approx(line["participant_minutes"], abs=0.01)
    ids = {e.event_id for e in events}
    assert all(s["opened_by"] in ids for p in detail["participants"] for s in p["sessions"])

    raw = await acme.api.client.get(
        f"/api/v1/orgs/{acme.id}/billing", params={**period, "format": "csv"}, headers=acme.api.headers
    )
    assert raw.status == 200 and raw.content_type == "text/csv"
    rows = list(csv.reader(io.StringIO(await raw.text())))
    assert rows[0][:2] == ["org_id", "event_id"] and rows[1][1] == event_id
    assert int(rows[1][5]) == line["unique_participants"]
    raw.release()
    sessions_csv = await acme.api.client.get(
        f"/api/v1/orgs/{acme.id}/events/{event_id}/billing",
        params={"format": "csv"},
        headers=acme.api.headers,
    )
    session_rows = list(csv.reader(io.StringIO(await sessions_csv.text())))[1:]
    assert len(session_rows) == detail["sessions"]
    sessions_csv.release()

    # another organisation sees neither the event nor its figures, and strangers nothing
    assert (await globex.api.get(f"/orgs/{globex.id}/billing?{query}", expect=200)).body["lines"] == []
    await globex.api.get(f"/orgs/{acme.id}/billing", expect=404)
    await globex.api.get(f"/orgs/{globex.id}/events/{event_id}/billing", expect=404)
    await globex.api.get(f"/orgs/{globex.id}/events/{event_id}/engagement", expect=404)
    stranger = await new_client()
    await stranger.get(f"/orgs/{acme.id}/billing", expect=401)

    # bad periods and formats are refused clearly
    bad = await acme.api.get(f"/orgs/{acme.id}/billing?from={period['to']}&to={period['from']}", expect=422)
    assert bad.code == "invalid_time_range"
    assert (
        await acme.api.get(f"/orgs/{acme.id}/billing?from=yesterday", expect=422)
    ).code == "validation_failed"
    assert (await acme.api.get(f"/orgs/{acme.id}/billing?format=xml", expect=422)).code == "validation_failed"


async def test_engagement_leaves_out_who_declined_and_says_how_fresh_it_is(
    redis_client: aioredis.Redis, new_client: ClientFactory
) -> None:
    acme = await make_org(new_client, "Acme")
    event_id = (await acme.api.post(f"/orgs/{acme.id}/events", EVENT_BODY, expect=201)).body["id"]

    def ev(n: int, kind: str, who: str, space: str | None = None, profiling: bool = True) -> AnalyticsEvent:
        at = START_MS + n * 60_000
        space_id = SpaceId(space) if space else None
        return AnalyticsEvent(f"{at}-0:0", kind, at, ParticipantId(who), space_id, None, profiling)

    log = [
        ev(0, "arrive", "ada"),
        ev(1, "join", "ada", "hall"),
        ev(2, "chat_message", "ada", "hall"),
        ev(3, "reaction", "ada", "hall"),
        AnalyticsEvent(f"{START_MS}-1:0", "arrive", START_MS, ParticipantId("shy"), profiling=False),
        ev(2, "join", "shy", "hall", profiling=False),
        ev(3, "chat_message", "shy", "hall", profiling=False),
        ev(4, "hand_raised", "shy", "hall", profiling=False),
    ]
    await write_log(redis_client, event_id, log)
    await AnalyticsWorker(redis_client, consumer="w").drain()
    body = (await acme.api.get(f"/orgs/{acme.id}/events/{event_id}/engagement", expect=200)).body
    assert body["unique_participants"] == 2 and body["participants_online"] == 2
    assert body["participants_not_profiled"] == 1
    assert body["engagement"]["chat_messages"] == 1 and body["engagement"]["hands_raised"] == 0
    assert [p["participant_id"] for p in body["participants"]] == ["ada"]
    [hall] = body["spaces"]
    assert (
        hall["space_id"] == "hall" and hall["unique_participants"] == 2 and hall["participants_present"] == 2
    )
    assert body["freshness"]["last_event_ms"] == START_MS + 4 * 60_000
    assert body["freshness"]["lag_entries"] == 0
    assert body["concurrency"][0]["participants"] == 2
