"""SessionTable: connections per participant and grace deadlines."""

from __future__ import annotations

import pytest

from signalling.ids import ConnectionId, ParticipantId
from signalling.sessions import Attached, SessionTable

P = ParticipantId("p")
C1, C2 = ConnectionId("c1"), ConnectionId("c2")


def test_first_attach_then_second_tab() -> None:
    table = SessionTable(grace_period_ms=100)
    assert table.attach(C1, P) == Attached(first=True, resumed_from_grace=False)
    assert table.attach(C2, P) == Attached(first=False, resumed_from_grace=False)
    assert table.detach(C1, now_ms=5) is None
    assert table.detach(C2, now_ms=7) == P
    assert table.grace_deadline_ms(P) == 107
    assert table.is_known(P) and not table.is_online(P)


def test_grace_expiry_is_inclusive_and_reattach_cancels_it() -> None:
    table = SessionTable(grace_period_ms=100)
    table.attach(C1, P)
    table.detach(C1, now_ms=0)
    assert table.expire(99) == []
    assert table.attach(C2, P) == Attached(first=False, resumed_from_grace=True)
    assert table.expire(10_000) == []
    table.detach(C2, now_ms=200)
    assert table.expire(300) == [P]
    assert not table.is_known(P)


def test_double_attach_and_negative_grace_are_errors() -> None:
    table = SessionTable(grace_period_ms=0)
    table.attach(C1, P)
    with pytest.raises(ValueError, match="already attached"):
        table.attach(C1, P)
    with pytest.raises(ValueError, match="negative"):
        SessionTable(grace_period_ms=-1)


def test_forget_returns_open_connections() -> None:
    table = SessionTable(grace_period_ms=10)
    table.attach(C1, P)
    table.attach(C2, P)
    assert table.forget(P) == (C1, C2)
    assert table.participant_of(C1) is None
