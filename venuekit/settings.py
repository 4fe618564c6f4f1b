"""Settings: read from the environment (and an optional TOML file), validated once at start-up.

Every setting has one name. In the environment it is ``VENUEKIT_<NAME>`` (``REDIS_URL`` has
no prefix, as most hosting platforms set it that way); in the TOML file named by
``VENUEKIT_CONFIG`` it is the lower-case ``<name>``. The environment wins over the file.
A bad value raises :class:`SettingsError` with one line that names the setting.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
MIN_SECRET_LEN: Final = 32


class SettingsError(ValueError):
    """A setting is missing or has a value VenueKit cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated configuration shared by every role."""

    host: str = "127.0.0.1"
    port: int = 8080
    sfu_port: int = 8090
    public_url: str = ""
    redis_url: str = ""
    redis_server: str = "redis-server"
    data_dir: Path = Path(".venuekit-data")
    log_level: str = "INFO"
    secret_key: str = ""
    shutdown_timeout_s: float = 10.0
    chat_window_ms: int = 100
    """How long chat messages are gathered before one batch goes to every recipient."""
    media_hosts: tuple[str, ...] = ("127.0.0.1",)
    """Addresses the media node offers ICE host candidates on; empty: every interface."""
    node_secret: str = ""
    """Shared secret signalling presents to ``venuekit sfu`` nodes; ``dev`` makes one per run."""
    sfu_advertise_host: str = ""
    """Host (name or IP) signalling uses to reach this media node; default: the listen host."""

    @property
    def effective_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{shown}:{self.port}"


# name -> (environment variable, parser). The order is the README's order.
def _env_name(name: str) -> str:
    return "REDIS_URL" if name == "redis_url" else f"VENUEKIT_{name.upper()}"


def _parse_port(name: str, raw: object) -> int:
    try:
        value = int(str(raw), 10)
    except ValueError:
        raise SettingsError(f"{_env_name(name)}={raw!r} is not a port number (0-65535)") from None
    if not 0 <= value <= 65535:
        raise SettingsError(f"{_env_name(name)}={raw!r} is not a port number (0-65535)")
    return value


def _parse_str(name: str, raw: object) -> str:
    if not isinstance(raw, str):
        raise SettingsError(f"{_env_name(name)} must be a string, got {raw!r}")
    return raw.strip()


def _parse_redis_url(name: str, raw: object) -> str:
    url = _parse_str(name, raw)
    if url and urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise SettingsError(f"{_env_name(name)}={url!r} must start with redis://, rediss:// or unix://")
    return url


def _parse_public_url(name: str, raw: object) -> str:
    url = _parse_str(name, raw)
    if url and urlsplit(url).scheme not in ("http", "https"):
        raise SettingsError(f"{_env_name(name)}={url!r} must be an http:// or https:// URL")
    return url


def _parse_log_level(name: str, raw: object) -> str:
    level = _parse_str(name, raw).upper()
    if level not in LOG_LEVELS:
        raise SettingsError(f"{_env_name(name)}={raw!r} must be one of {', '.join(LOG_LEVELS)}")
    return level


def _parse_secret(name: str, raw: object) -> str:
    secret = _parse_str(name, raw)
    if secret and len(secret) < MIN_SECRET_LEN:
        raise SettingsError(
            f"{_env_name(name)} must be at least {MIN_SECRET_LEN} characters "
            "(try: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    return secret


def _parse_path(name: str, raw: object) -> Path:
    text = _parse_str(name, raw)
    if not text:
        raise SettingsError(f"{_env_name(name)} must not be empty")
    return Path(text)


def _parse_window_ms(name: str, raw: object) -> int:
    try:
        value = int(str(raw), 10)
    except ValueError:
        raise SettingsError(f"{_env_name(name)}={raw!r} is not a whole number of milliseconds") from None
    if not 10 <= value <= 2000:
        raise SettingsError(f"{_env_name(name)}={raw!r} must be between 10 and 2000 milliseconds")
    return value


def _parse_hosts(name: str, raw: object) -> tuple[str, ...]:
    if isinstance(raw, list | tuple):
        items = [str(item).strip() for item in raw]
    else:
        text = _parse_str(name, raw)
        if text == "all":
            return ()
        items = [part.strip() for part in text.split(",")]
    hosts = tuple(item for item in items if item)
    for host in hosts:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise SettingsError(
                f"{_env_name(name)}: {host!r} is not an IP address (use a comma-separated list, or 'all')"
            ) from None
    if not hosts:
        raise SettingsError(f"{_env_name(name)} must list at least one IP address, or be 'all'")
    return hosts


def _parse_positive_float(name: str, raw: object) -> float:
    try:
        value = float(str(raw))
    except ValueError:
        raise SettingsError(f"{_env_name(name)}={raw!r} is not a number") from None
    if not value > 0:
        raise SettingsError(f"{_env_name(name)}={raw!r} must be greater than 0")
    return value


_PARSERS: Final[dict[str, Callable[[str, object], Any]]] = {
    "host": _parse_str,
    "port": _parse_port,
    "sfu_port": _parse_port,
    "public_url": _parse_public_url,
    "redis_url": _parse_redis_url,
    "redis_server": _parse_str,
    "data_dir": _parse_path,
    "log_level": _parse_log_level,
    "secret_key": _parse_secret,
    "shutdown_timeout_s": _parse_positive_float,
    "chat_window_ms": _parse_window_ms,
    "media_hosts": _parse_hosts,
    "node_secret": _parse_secret,
    "sfu_advertise_host": _parse_str,
}


def _read_config_file(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"VENUEKIT_CONFIG={str(path)!r}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"VENUEKIT_CONFIG={str(path)!r} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(_PARSERS))
    if unknown:
        raise SettingsError(
            f"VENUEKIT_CONFIG={str(path)!r}: unknown setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(_PARSERS)}"
        )
    return data


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``environ`` (default: ``os.environ``)."""
    env = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    config_path = env.get("VENUEKIT_CONFIG", "").strip()
    if config_path:
        raw.update(_read_config_file(Path(config_path)))
    for name in _PARSERS:
        value = env.get(_env_name(name))
        if value is not None and value != "":
            raw[name] = value
    values: dict[str, Any] = {
        name: parser(name, raw[name]) for name, parser in _PARSERS.items() if name in raw
    }
    settings = Settings(**values)
    if settings.host == "":
        raise SettingsError("VENUEKIT_HOST must not be empty")
    return settings


def describe() -> list[tuple[str, str]]:
    """(environment variable, default) for every setting, in declaration order."""
    defaults = Settings()
    return [(_env_name(f.name), str(getattr(defaults, f.name))) for f in fields(Settings)]
