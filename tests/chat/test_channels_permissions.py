"""Channel names and who may read, write and moderate them (pure)."""

from __future__ import annotations

import pytest

from chat.channels import ChannelKind, dm_channel, event_channel, parse_channel, space_channel, team_channel
from chat.errors import ChatError
from chat.grants import Role
from chat.ids import EventId, ParticipantId
from chat.permissions import Action, allowed, can_see, check
from tests.chat.helpers import EVENT, grants

ORG = grants("org", Role.ORGANISER, spaces=())
MEMBER = grants("mia", teams=("t1",))
OUTSIDER = grants("otto", teams=("t2",))
LIMITED = grants("lim", spaces=("stage",))


def test_parse_channel_forms() -> None:
    assert parse_channel(EVENT, "event") == event_channel(EVENT)
    space = parse_channel(EVENT, "space:stage")
    assert (space.kind, space.target, space.name) == (ChannelKind.SPACE, "stage", "space:stage")
    assert parse_channel(EVENT, "team:t1").kind is ChannelKind.TEAM
    dm = dm_channel(EVENT, ParticipantId("zed"), ParticipantId("amy"))
    assert dm.name == "dm:amy:zed" and dm.members == ("amy", "zed")
    assert parse_channel(EVENT, "dm:amy:zed") == dm


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "events",
        "event:x",
        "space:",
        "space:a:b",
        "team:{x}",
        "dm:a",
        "dm:a:a",
        "dm:b:a",
        "space:a b",
        5,
        None,
        "x" * 400,
        "team:" + "x" * 129,
        "dm:a:b:c",
    ],
)
def test_bad_channel_names(raw: object) -> None:
    with pytest.raises(ChatError) as err:
        parse_channel(EVENT, raw)
    assert err.value.code == "invalid_channel"


def test_event_ids_that_would_break_hash_tags_are_refused() -> None:
    with pytest.raises(ChatError):
        parse_channel(EventId("a}b"), "event")


def test_event_chat_is_for_everyone_in_the_event() -> None:
    main = event_channel(EVENT)
    for who in (ORG, MEMBER, OUTSIDER, LIMITED):
        assert allowed(who, main, Action.READ) and allowed(who, main, Action.WRITE)
    assert not allowed(grants("x", event=EventId("other")), main, Action.READ)
    assert allowed(ORG, main, Action.MODERATE)
    assert not allowed(MEMBER, main, Action.MODERATE)


def test_space_chat_follows_space_grants() -> None:
    stage = space_channel(EVENT, "stage")
    room = space_channel(EVENT, "room1")
    assert allowed(LIMITED, stage, Action.WRITE)
    with pytest.raises(ChatError) as err:
        check(LIMITED, room, Action.READ)
    assert err.value.code == "forbidden"
    assert allowed(MEMBER, room, Action.READ)  # spaces ["*"]
    assert allowed(ORG, room, Action.MODERATE)  # organisers enter every space


def test_team_chat_is_invisible_to_non_members() -> None:
    team = team_channel(EVENT, "t1")
    assert allowed(MEMBER, team, Action.READ) and allowed(MEMBER, team, Action.WRITE)
    assert allowed(ORG, team, Action.READ) and allowed(ORG, team, Action.MODERATE)
    assert not can_see(OUTSIDER, team)
    for action in Action:
        with pytest.raises(ChatError) as err:
            check(OUTSIDER, team, action)
        assert err.value.code == "channel_not_found"
    # Same answer as for a team that does not exist at all: nothing leaks.
    with pytest.raises(ChatError) as err:
        check(OUTSIDER, team_channel(EVENT, "never"), Action.READ)
    assert err.value.code == "channel_not_found"
    assert not allowed(grants("speaker", Role.SPEAKER), team, Action.READ)


def test_direct_messages_are_for_their_two_participants_only() -> None:
    dm = dm_channel(EVENT, ParticipantId("mia"), ParticipantId("otto"))
    assert allowed(MEMBER, dm, Action.WRITE) and allowed(OUTSIDER, dm, Action.READ)
    assert not can_see(ORG, dm)
    assert not allowed(LIMITED, dm, Action.READ)
    with pytest.raises(ChatError) as err:
        check(MEMBER, dm, Action.MODERATE)
    assert err.value.code == "forbidden"
