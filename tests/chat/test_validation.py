"""Message content and message id checks (pure), with a hypothesis fuzz."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat.errors import ChatError
from chat.validation import TextLimits, id_key, parse_message_id, validate_text

LIMITS = TextLimits(max_chars=50, max_bytes=60)


def test_text_is_stripped_and_keeps_newlines_and_tabs() -> None:
    assert validate_text("  hello\n\tworld  ", LIMITS) == "hello\n\tworld"
    assert validate_text("é🎉", LIMITS) == "é🎉"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "empty_message"),
        ("  \n\t ", "empty_message"),
        ("x" * 51, "message_too_long"),
        ("🎉" * 16, "message_too_long"),  # 16 characters but 64 bytes
        ("bell\x07", "invalid_characters"),
        ("cr\r\n", "invalid_characters"),
        ("nul\x00", "invalid_characters"),
        ("del\x7f", "invalid_characters"),
        ("c1\x85", "invalid_characters"),
        ("lone \ud800 surrogate", "invalid_characters"),
        (b"bytes", "not_text"),
        (None, "not_text"),
        (42, "not_text"),
        (["list"], "not_text"),
        ({"text": "x"}, "not_text"),
    ],
)
def test_refused_text(raw: object, code: str) -> None:
    with pytest.raises(ChatError) as err:
        validate_text(raw, LIMITS)
    assert err.value.code == code


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), st.binary(max_size=10), st.integers(), st.none(), st.lists(st.text())))
def test_validate_text_accepts_only_clean_text(raw: object) -> None:
    try:
        text = validate_text(raw, LIMITS)
    except ChatError as err:
        assert err.code in {"not_text", "empty_message", "message_too_long", "invalid_characters"}
        return
    assert isinstance(raw, str)
    assert text == raw.strip() and text
    assert len(text) <= LIMITS.max_chars and len(text.encode()) <= LIMITS.max_bytes
    assert all(c in "\n\t" or (ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F) for c in text)


def test_message_ids() -> None:
    assert parse_message_id("1700000000000-3") == "1700000000000-3"
    assert parse_message_id("0001-02") == "1-2"
    assert id_key(parse_message_id("5-10")) > id_key(parse_message_id("5-9"))
    for bad in (
        "",
        "1",
        "1-",
        "-1",
        "a-b",
        "1-2-3",
        " 1-2",
        "1-2 ",
        "18446744073709551616-0",
        12,
        None,
        "\uff11-2",  # fullwidth digit one
    ):
        with pytest.raises(ChatError) as err:
            parse_message_id(bad)
        assert err.value.code == "bad_message_id"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_parse_message_id_never_crashes(raw: str) -> None:
    try:
        parsed = parse_message_id(raw)
    except ChatError:
        return
    ms, seq = id_key(parsed)
    assert 0 <= ms < 2**64 and 0 <= seq < 2**64
