"""docs/protocol.md documents every Socket.IO event in both directions, as the code has them."""

from __future__ import annotations

from pathlib import Path

from signalling.protocol_doc import BEGIN, END, render_client_events
from signalling.wire import SERVER_EVENTS

DOC = Path(__file__).parents[2] / "docs" / "protocol.md"


def test_client_event_table_matches_the_schemas() -> None:
    text = DOC.read_text()
    generated = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert generated == render_client_events(), "run: python -m signalling.protocol_doc"


def test_every_server_event_is_documented() -> None:
    text = DOC.read_text()
    for name in SERVER_EVENTS.values():
        assert f"| `{name}` |" in text, f"server event {name} is not in docs/protocol.md"


def test_chat_and_media_events_are_documented() -> None:
    from signalling.chat_bridge import BATCH_EVENT, ChatBridge

    text = DOC.read_text()
    bridge = ChatBridge(gateway=None)  # type: ignore[arg-type]  # only its event table is read
    for name in [
        *bridge.event_names,
        BATCH_EVENT,
        "media_publish",
        "media_offer",
        "media_answer",
        "media_reset",
    ]:
        assert f"| `{name}` |" in text, f"{name} is not in docs/protocol.md"
