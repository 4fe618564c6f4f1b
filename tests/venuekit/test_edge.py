"""The whole edge in one real ``venuekit dev`` process: control API -> join token -> Socket.IO venue."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from loadtest.provision import provision
from loadtest.sio import LeanClient, SocketIOError
from tests.support.processes import Role


async def test_an_organiser_token_from_the_api_admits_a_socket_into_the_venue(dev: Role) -> None:
    venue = await provision(dev.base_url, ["Olga"], [{"name": "Hall", "kind": "room", "capacity": 20}])
    hall = venue.spaces["Hall"]
    seen: list[tuple[str, Any]] = []
    async with aiohttp.ClientSession() as sockets:
        client = LeanClient(sockets, lambda name, data: seen.append((name, data)))
        await client.connect(dev.base_url, {"token": venue.tokens["Olga"]})
        assert await client.call("join_space", {"space_id": hall}) == {"ok": True, "data": None}
        snapshots = [d for n, d in seen if n == "space_snapshot"]
        assert snapshots[-1]["space_id"] == hall
        assert snapshots[-1]["occupants"][0]["display_name"] == "Olga"
        assert snapshots[-1]["occupants"][0]["role"] == "organiser"
        await client.close()

        forged = LeanClient(sockets, lambda *_: None)
        with pytest.raises(SocketIOError) as info:
            await forged.connect(dev.base_url, {"token": venue.tokens["Olga"][:-6] + "AAAAAA"})
        assert info.value.data["code"] == "token_invalid"


async def test_attendee_tokens_come_from_tickets(dev: Role) -> None:
    venue = await provision(dev.base_url, ["Owner"], [], attendees=3)
    assert len(set(venue.attendees)) == 3
    seen: list[tuple[str, Any]] = []
    async with aiohttp.ClientSession() as sockets:
        client = LeanClient(sockets, lambda name, data: seen.append((name, data)))
        await client.connect(dev.base_url, {"token": venue.attendees[0]})
        refused = await client.call("end_event", {"reason": "I am only an attendee"})
        assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
        await client.close()


async def test_chat_round_trip_and_gapless_replay_after_a_drop(dev: Role) -> None:
    venue = await provision(dev.base_url, ["Ana", "Ben"], [])
    ana_token, ben_token = venue.tokens["Ana"], venue.tokens["Ben"]
    async with aiohttp.ClientSession() as sockets:
        ben_seen: list[Any] = []
        ana = LeanClient(sockets, lambda *_: None)
        ben = LeanClient(sockets, lambda name, data: ben_seen.append(data) if name == "chat_batch" else None)
        await ana.connect(dev.base_url, {"token": ana_token})
        await ben.connect(dev.base_url, {"token": ben_token})
        assert (await ana.call("chat_join", {"channel": "event"}))["ok"] is True
        joined = await ben.call("chat_join", {"channel": "event"})
        assert joined["ok"] is True and joined["data"]["mode"] == "history"

        sent = await ana.call("chat_send", {"channel": "event", "text": "<b>hello</b> Ben"})
        assert sent["ok"] is True
        first_id = sent["data"]["id"]
        for _ in range(100):
            if ben_seen:
                break
            await asyncio.sleep(0.05)
        items = [item for batch in ben_seen for item in batch["items"]]
        assert [(i["id"], i["text"]) for i in items] == [(first_id, "<b>hello</b> Ben")]
        assert items[0]["sender"] == {"id": items[0]["sender"]["id"], "name": "Ana", "role": "organiser"}

        await ben.drop()
        missed = []
        for n in range(3):
            reply = await ana.call("chat_send", {"channel": "event", "text": f"while away {n}"})
            missed.append(reply["data"]["id"])

        back = LeanClient(sockets, lambda *_: None)
        await back.connect(dev.base_url, {"token": ben_token})
        replay = await back.call("chat_join", {"channel": "event", "last_id": first_id})
        assert replay["data"]["mode"] == "replay"
        assert [i["id"] for i in replay["data"]["items"]] == missed

        refused = await back.call("chat_send", {"channel": "bogus", "text": "hi"})
        assert refused["ok"] is False
        assert refused["error"]["code"] == "invalid_channel"
        empty = await back.call("chat_send", {"channel": "event", "text": "   "})
        assert empty["ok"] is False
        assert empty["error"]["code"] == "empty_message"
        for client in (ana, back):
            await client.close()


async def test_attendance_for_billing_counts_each_person_once(dev: Role) -> None:
    from loadtest.provision import PASSWORD, cookie_session

    venue = await provision(
        dev.base_url, ["Owner"], [{"name": "Hall", "kind": "room", "capacity": 20}], attendees=2
    )
    hall = venue.spaces["Hall"]
    async with aiohttp.ClientSession() as sockets:
        tabs = [LeanClient(sockets, lambda *_: None) for _ in range(3)]
        for tab, token in zip(
            tabs, [venue.attendees[0], venue.attendees[0], venue.attendees[1]], strict=True
        ):
            await tab.connect(dev.base_url, {"token": token})  # the first attendee has two tabs
            await tab.call("join_space", {"space_id": hall})
        for tab in tabs:
            await tab.close()
    await asyncio.sleep(0.3)
    url = f"{venue.event_base}/attendance"
    async with cookie_session() as owner:
        login = {"email": venue.owner_email, "password": PASSWORD}
        async with owner.post(f"{venue.api}/sessions", json=login) as resp:
            assert resp.status == 201
        async with owner.get(url) as resp:
            assert resp.status == 200
            figures = await resp.json()
        assert figures["unique_participants"] == 2
        assert figures["spaces"][0]["space_id"] == hall and figures["spaces"][0]["unique_participants"] == 2
        async with owner.get(url, params={"format": "csv"}) as resp:
            assert resp.status == 200 and resp.content_type == "text/csv"
            rows = (await resp.text()).strip().splitlines()
        assert rows[0] == "event_id,participant_id,minutes" and len(rows) == 3
    async with aiohttp.ClientSession() as stranger:
        async with stranger.get(url) as resp:
            assert resp.status == 401
        async with stranger.get(url, headers={"Authorization": f"Ticket {venue.ticket_codes[0]}"}) as resp:
            assert resp.status in (401, 403)


async def test_revoking_a_ticket_ends_the_live_session_at_once(dev: Role) -> None:
    from loadtest.provision import PASSWORD, cookie_session

    venue = await provision(
        dev.base_url, ["Owner"], [{"name": "Hall", "kind": "room", "capacity": 5}], attendees=1
    )
    ticket_id = venue.ticket_codes[0].split(".", 1)[0]
    seen: list[tuple[str, Any]] = []
    async with aiohttp.ClientSession() as sockets:
        attendee = LeanClient(sockets, lambda name, data: seen.append((name, data)))
        await attendee.connect(dev.base_url, {"token": venue.attendees[0]})
        async with cookie_session() as owner:
            login = {"email": venue.owner_email, "password": PASSWORD}
            async with owner.post(f"{venue.api}/sessions", json=login) as resp:
                csrf = {"X-CSRF-Token": (await resp.json())["csrf_token"]}
            async with owner.post(f"{venue.event_base}/tickets/{ticket_id}/revoke", headers=csrf) as resp:
                assert resp.status == 200, await resp.text()
        await asyncio.wait_for(attendee.closed.wait(), 10)
        removed = [data for name, data in seen if name == "removed"]
        assert removed and "revoked" in removed[0]["reason"]
        await attendee.close()  # the server closed it; release the client side too
        again = LeanClient(sockets, lambda *_: None)
        with pytest.raises(SocketIOError) as info:
            await again.connect(dev.base_url, {"token": venue.attendees[0]})
        assert info.value.data["code"] == "token_revoked"
