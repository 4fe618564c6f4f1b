"""The media benchmark's smoke mode: both sides run end to end and subscribers receive packets; the
SFU side is a separate ``venuekit sfu`` media node beside ``venuekit signal``, measured alone."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_media_benchmark_smoke_forwards_through_the_sfu_and_the_baseline() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "loadtest", "media", "--smoke"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    for key in (
        "forwarded_pps",
        "sfu_cpu_s",
        "pps_per_sfu_cpu_s",
        "baseline_pps_per_cpu_s",
        "ratio_vs_baseline",
        "sfu_latency_p50_ms",
        "sfu_latency_p99_ms",
        "loss_pct",
        "frames_per_sfu_cpu_s",
        "baseline_frames_per_cpu_s",
        "baseline_subscribers",
        "sfu_cpu_system_s",
        "signal_cpu_s",
        "sfu_process",
    ):
        assert key in summary
    assert summary["scenario"] == "media"
    assert summary["subscribers"] == 2
    assert summary["sfu_received_packets"] > 0
    assert summary["baseline_received_packets"] > 0
    assert summary["sfu"]["receivers_without_video"] == 0
    assert summary["baseline"]["receivers_without_video"] == 0
    # one subscriber decodes, the other counts at the socket and authenticates a sample
    assert (summary["decoding_subscribers"], summary["counting_subscribers"]) == (1, 1)
    assert summary["srtp_sample_ok"] > 0
    assert summary["srtp_sample_failed"] == 0
    assert summary["sfu"]["cpu_system_s"] is not None
    # the default topology: the media node's own process, signalling measured beside it
    assert summary["sfu_process"] == "venuekit sfu --workers 1"
    assert summary["signal_cpu_s"] is not None
    assert summary["dev_server"] is None
    # the SFU's own metrics were scraped from the media node (signalling's /metrics has none)
    assert summary["sfu"]["server_sent_pps"] > 0
    assert summary["sfu_latency_p99_ms"] is not None


def test_loadtest_lists_the_media_benchmark() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "loadtest", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert "media" in result.stdout
