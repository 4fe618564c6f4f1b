"""Deployment files stay true to the code: dashboards name only metrics the code exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

import venuekit.app  # registers the composition root's metrics
import venuekit.observability

ROOT = Path(__file__).parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
_SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created", "_info")


def _exported_names() -> set[str]:
    names: set[str] = set()
    for metric in REGISTRY.collect():
        names.add(metric.name)
        names.update(sample.name for sample in metric.samples)
    return names


def _import_every_package() -> None:
    import importlib
    import pkgutil

    for package in ("venuekit", "sfu", "signalling", "chat", "recorder", "control_api"):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_metrics_exist(dashboard: Path) -> None:
    _import_every_package()
    venuekit.observability.BUILD_INFO.info({"version": "test", "role": "test"})
    exported = _exported_names()
    data = json.loads(dashboard.read_text())
    exprs = [t["expr"] for panel in data["panels"] for t in panel.get("targets", [])]
    assert exprs
    for expr in exprs:
        for name in re.findall(r"\b((?:venuekit|process)_[a-z0-9_]+)", expr):
            assert name in exported or any(
                name.endswith(s) and name[: -len(s)] in exported for s in _SUFFIXES
            ), f"{dashboard.name}: {name} is not exported"


def test_compose_runs_two_signal_and_two_sfu_instances() -> None:
    compose = (ROOT / "deploy" / "docker-compose.yml").read_text()
    assert len(re.findall(r'command: \["signal"', compose)) == 2
    assert len(re.findall(r'command: \["sfu"', compose)) == 2
    assert '"--appendonly", "yes"' in compose
    prometheus = (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()
    for target in ("signal-1:8080", "signal-2:8080", "sfu-1:8090", "sfu-2:8090"):
        assert target in prometheus


def test_dockerfile_copies_every_package_the_distribution_ships() -> None:
    import tomllib

    dockerfile = (ROOT / "Dockerfile").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        package = pattern.rstrip("*")
        assert f"COPY {package}/ {package}/" in dockerfile, f"the image would lack {package}/"


def test_dockerfile_runs_as_non_root_from_a_slim_stage() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = dockerfile.split("\nFROM ")
    assert len(stages) == 3, "two stages"
    final = stages[-1]
    assert "USER venuekit" in final
    assert "pip install" not in final and "gcc" not in final
