"""The chat benchmark's smoke mode: it runs end to end and its summary says what it measured."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_chat_benchmark_smoke_delivers_every_message_exactly_once() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "loadtest", "chat", "--smoke"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    for key in (
        "clients",
        "sent",
        "expected_deliveries",
        "delivered",
        "duplicates",
        "latency_p50_ms",
        "latency_p99_ms",
        "server_cpu_s",
        "server_rss_mb",
    ):
        assert key in summary
    assert summary["sent"] > 0
    assert summary["reconnects"] > 0
    assert summary["send_failures"] == 0  # the smoke rate stays inside the per-participant limit
    assert summary["delivered"] == summary["expected_deliveries"] == summary["sent"] * summary["clients"]
    assert summary["duplicates"] == 0
    baseline = summary["baseline"]  # the same workload against the naive baseline, same run
    assert baseline["sent"] > 0 and baseline["delivered"] > 0
    for key in ("cpu_ratio_vs_baseline", "p99_ratio_vs_baseline", "server_cpu_ms_per_1k_deliveries"):
        assert key in summary


def test_loadtest_lists_its_benchmarks() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "loadtest", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert "chat" in result.stdout and "tickets" in result.stdout
