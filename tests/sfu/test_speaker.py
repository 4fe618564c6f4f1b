"""Active-speaker detection from audio levels."""

from __future__ import annotations

from sfu.speaker import ActiveSpeakerDetector, SpeakerChange


def feed(d: ActiveSpeakerDetector, levels: dict[str, int], start: float, seconds: float) -> float:
    t = start
    while t < start + seconds:
        for speaker, level in levels.items():
            d.observe(speaker, level, t)
        t += 0.02
    return t


def test_loud_speaker_becomes_active() -> None:
    d = ActiveSpeakerDetector()
    t = feed(d, {"alice": 20, "bob": 127}, 0.0, 1.0)
    assert d.update(t) == SpeakerChange(previous=None, current="alice")
    assert d.current == "alice"
    assert d.update(t + 0.1) is None


def test_silence_keeps_last_speaker_and_noise_is_ignored() -> None:
    d = ActiveSpeakerDetector()
    t = feed(d, {"alice": 20}, 0.0, 1.0)
    d.update(t)
    t = feed(d, {"alice": 127, "bob": 90}, t, 2.0)  # bob's level is background noise
    assert d.update(t) is None
    assert d.current == "alice"


def test_switches_only_with_a_clear_margin_and_after_hold() -> None:
    d = ActiveSpeakerDetector(min_hold_s=0.5)
    t = feed(d, {"alice": 30}, 0.0, 1.0)
    d.update(t)
    # bob about as loud as alice: no switch
    t = feed(d, {"alice": 30, "bob": 28}, t, 1.0)
    assert d.update(t) is None
    # alice stops, bob goes on
    t = feed(d, {"alice": 127, "bob": 28}, t, 1.0)
    assert d.update(t) == SpeakerChange(previous="alice", current="bob")
    # hold: an immediate re-evaluation cannot switch back
    t2 = feed(d, {"alice": 0, "bob": 127}, t, 0.3)
    assert d.update(t2) is None


def test_leaving_speaker_is_cleared() -> None:
    d = ActiveSpeakerDetector()
    t = feed(d, {"alice": 10}, 0.0, 1.0)
    d.update(t)
    assert d.remove("alice") == SpeakerChange(previous="alice", current=None)
    assert d.remove("bob") is None
    assert d.update(t + 1) is None


def test_out_of_range_levels_are_clamped() -> None:
    d = ActiveSpeakerDetector()
    d.observe("x", -5, 0.0)
    d.observe("x", 500, 0.01)
    assert d.score("x", 0.02) > 0
