from pathlib import Path

import pytest

from venuekit.settings import Settings, SettingsError, describe, load_settings


def test_defaults_without_environment() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.effective_public_url == "http://127.0.0.1:8080"


def test_environment_values_are_parsed() -> None:
    settings = load_settings(
        {
            "VENUEKIT_PORT": "9000",
            "REDIS_URL": "redis://example:6380/1",
            "VENUEKIT_LOG_LEVEL": "debug",
            "VENUEKIT_DATA_DIR": "/tmp/x",
            "VENUEKIT_HOST": "0.0.0.0",
        }
    )
    assert settings.port == 9000
    assert settings.redis_url == "redis://example:6380/1"
    assert settings.log_level == "DEBUG"
    assert settings.data_dir == Path("/tmp/x")
    assert settings.effective_public_url == "http://127.0.0.1:9000"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"VENUEKIT_PORT": "eighty"}, "VENUEKIT_PORT='eighty' is not a port number"),
        ({"VENUEKIT_PORT": "70000"}, "VENUEKIT_PORT='70000' is not a port number"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL='http://x' must start with redis://"),
        ({"VENUEKIT_LOG_LEVEL": "LOUD"}, "VENUEKIT_LOG_LEVEL='LOUD' must be one of"),
        ({"VENUEKIT_SECRET_KEY": "short"}, "VENUEKIT_SECRET_KEY must be at least 32"),
        ({"VENUEKIT_PUBLIC_URL": "ftp://x"}, "VENUEKIT_PUBLIC_URL='ftp://x' must be an http"),
        ({"VENUEKIT_SHUTDOWN_TIMEOUT_S": "-1"}, "must be greater than 0"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_config_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "venuekit.toml"
    config.write_text('port = 7000\nlog_level = "warning"\n')
    settings = load_settings({"VENUEKIT_CONFIG": str(config), "VENUEKIT_PORT": "7001"})
    assert settings.port == 7001
    assert settings.log_level == "WARNING"


def test_config_file_errors_are_clear(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(SettingsError, match="no such file"):
        load_settings({"VENUEKIT_CONFIG": str(missing)})
    broken = tmp_path / "broken.toml"
    broken.write_text("port = = 1")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings({"VENUEKIT_CONFIG": str(broken)})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 'blue'")
    with pytest.raises(SettingsError, match="unknown setting"):
        load_settings({"VENUEKIT_CONFIG": str(unknown)})


def test_readme_configuration_table_lists_every_setting() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for variable, _default in describe():
        assert f"`{variable}`" in readme, f"{variable} is missing from the README table"


def test_media_hosts_are_ip_addresses_or_all() -> None:
    assert load_settings({}).media_hosts == ("127.0.0.1",)
    assert load_settings({"VENUEKIT_MEDIA_HOSTS": "10.0.0.5, ::1"}).media_hosts == ("10.0.0.5", "::1")
    assert load_settings({"VENUEKIT_MEDIA_HOSTS": "all"}).media_hosts == ()
    with pytest.raises(SettingsError, match=r"'example\.com' is not an IP address"):
        load_settings({"VENUEKIT_MEDIA_HOSTS": "example.com"})
