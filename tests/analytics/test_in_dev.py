"""End to end in one real ``venuekit dev``: sockets -> analytics stream -> worker -> control API."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from loadtest.provision import PASSWORD, cookie_session, provision
from loadtest.sio import LeanClient
from tests.support.processes import Role


async def test_live_figures_count_people_once_and_their_engagement(dev: Role) -> None:
    venue = await provision(
        dev.base_url,
        ["Owner"],
        [{"name": "Hall", "kind": "room", "capacity": 20}, {"name": "Den", "kind": "room", "capacity": 20}],
        attendees=2,
    )
    hall, den = venue.spaces["Hall"], venue.spaces["Den"]
    async with aiohttp.ClientSession() as sockets:
        ana1, ana2, ben = (LeanClient(sockets, lambda *_: None) for _ in range(3))
        await ana1.connect(dev.base_url, {"token": venue.attendees[0]})
        await ana2.connect(dev.base_url, {"token": venue.attendees[0]})  # a second tab
        await ben.connect(dev.base_url, {"token": venue.attendees[1]})
        for client in (ana1, ben):
            assert (await client.call("join_space", {"space_id": hall}))["ok"]
        assert (await ana1.call("join_space", {"space_id": den}))["ok"]  # switches space
        assert (await ana1.call("chat_send", {"channel": "event", "text": "hello"}))["ok"]
        assert (await ana1.call("react", {"reaction": "clap"}))["ok"]
        assert (await ben.call("raise_hand", {}))["ok"]
        await ben.drop()
        ben_again = LeanClient(sockets, lambda *_: None)
        await ben_again.connect(dev.base_url, {"token": venue.attendees[1]})  # reconnects
        async with cookie_session() as owner:
            login = {"email": venue.owner_email, "password": PASSWORD}
            async with owner.post(f"{venue.api}/sessions", json=login) as resp:
                assert resp.status == 201
            body: dict[str, Any] = {}
            for _ in range(150):
                async with owner.get(f"{venue.event_base}/engagement") as resp:
                    assert resp.status == 200
                    body = await resp.json()
                settled = body["freshness"]["lag_entries"] == 0  # the worker folded everything sent
                if (
                    settled
                    and body["engagement"]["hands_raised"] == 1
                    and body["engagement"]["chat_messages"] == 1
                ):
                    break
                await asyncio.sleep(0.1)
            assert body["unique_participants"] == 2
            assert body["participants_online"] == 2
            assert body["engagement"]["chat_messages"] == 1
            assert body["engagement"]["reactions"] == 1
            assert body["engagement"]["hands_raised"] == 1
            assert {s["space_id"] for s in body["spaces"]} == {hall, den}
            assert body["freshness"]["lag_entries"] == 0
            async with owner.get(f"{venue.event_base}/billing") as resp:
                bill = await resp.json()
            assert bill["unique_participants"] == 2
            assert sorted(len(p["sessions"]) for p in bill["participants"]) == [1, 2]
        for client in (ana1, ana2, ben_again):
            await client.close()
