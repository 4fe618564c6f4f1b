"""Typed identifiers used by the venue state machine (events, spaces, participants, teams, sockets)."""

from __future__ import annotations

from typing import NewType

EventId = NewType("EventId", str)
SpaceId = NewType("SpaceId", str)
ParticipantId = NewType("ParticipantId", str)
TeamId = NewType("TeamId", str)
ConnectionId = NewType("ConnectionId", str)

LOBBY = SpaceId("lobby")
"""The reserved id of every event's lobby, where joined participants wait before entering a space."""

BREAKOUT_SEPARATOR = "~"
"""Breakout room ids are ``<origin>~<n>``; configured space ids may not contain it."""
