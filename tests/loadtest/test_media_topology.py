"""The media benchmark's default server side: Redis, a ``venuekit sfu`` node and ``venuekit signal``
as separate processes, the media node's /metrics and pid those of the forwarding process, and
every process stopped when the benchmark ends, also when it fails."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from loadtest import topology

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _redis_answers(url: str) -> bool:
    return topology.redis_answers(int(url.removeprefix("redis://127.0.0.1:").split("/", 1)[0]))


def test_split_topology_measures_the_media_node_and_stops_everything_even_on_error() -> None:
    class Boom(Exception):
        pass

    started: list[int] = []
    redis_urls: list[str] = []
    with pytest.raises(Boom), topology.split() as measured:
        assert measured.sfu_pid is not None and measured.signal_pid is not None
        assert measured.sfu_metrics_url is not None and measured.redis_url is not None
        assert _redis_answers(measured.redis_url)
        redis_urls.append(measured.redis_url)
        started += [measured.sfu_pid, measured.signal_pid]
        started += topology.children_of(measured.sfu_pid) + topology.children_of(measured.signal_pid)
        cmdline = Path(f"/proc/{measured.sfu_pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[2:4] == [b"venuekit", b"sfu"]
        assert measured.sfu_pid != measured.signal_pid
        assert measured.url != measured.sfu_metrics_url
        with urllib.request.urlopen(measured.sfu_metrics_url + "/metrics", timeout=5) as resp:
            assert "venuekit_sfu_forwarding_latency_seconds_bucket" in resp.read().decode()
        raise Boom
    assert started
    assert [pid for pid in started if _alive(pid)] == []
    assert not _redis_answers(redis_urls[0])
