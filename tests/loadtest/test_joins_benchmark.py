"""The joins benchmark's smoke mode: participants get from token to a decoded frame."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_joins_benchmark_smoke() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "loadtest", "joins", "--smoke"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("joins_per_s", "join_p50_ms", "join_p99_ms", "failed", "phase_first_frame_p50_ms"):
        assert key in summary
    assert summary["failed"] == 0
    assert summary["joins_per_s"] > 0
