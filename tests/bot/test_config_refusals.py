"""bot/config: values that used to be taken silently are refused at load, in one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from tests.conftest import run_cli, write_config


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ({"schedule": {"jitter_minutes": True}}, "schedule.jitter_minutes: must be a whole number, not true"),
        ({"schedule": {"max_posts_per_day": False}}, "schedule.max_posts_per_day: must be a whole number, not false"),
        ({"schedule": {"slots": ["09:30", "19:00", "09:30"]}},
         "schedule.slots: slot '09:30' is listed twice; each slot is one posting time"),
        ({"instagram": {"proxy": "socks9://user:s3cret@proxy.example:1080"}},
         "instagram.proxy: scheme 'socks9' is not a proxy pawpost can use"),
        ({"instagram": {"proxy": "proxy.example:8080"}}, "instagram.proxy: a URL without a scheme"),
    ],
)
def test_refused_at_load_with_one_line(tmp_path: Path, sections: dict, expected: str) -> None:
    path = write_config(tmp_path / "home", sections)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert expected in message and "\n" not in message
    assert "s3cret" not in message  # a proxy URL may hold a password: never echoed


def test_good_values_still_load(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "home", {
        "schedule": {"jitter_minutes": 0, "slots": ["19:00", "09:30"]},
        "instagram": {"proxy": "socks5h://user:pw@proxy.example:1080"},
    }))
    assert config.schedule.slots == ["09:30", "19:00"] and config.schedule.jitter_minutes == 0


def test_the_cli_and_the_environment_are_refused_the_same_way(tmp_path: Path) -> None:
    path = write_config(tmp_path / "home")
    r = run_cli("status", config=path, env={"PAWPOST_INSTAGRAM__PROXY": "socks9://u:topsecret@h:1"})
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "$PAWPOST_INSTAGRAM__PROXY" in r.stderr and "socks9" in r.stderr and "topsecret" not in r.stderr
    r = run_cli("status", config=path, env={"PAWPOST_SCHEDULE__SLOTS": '["09:30", "09:30"]'})
    assert r.returncode == 1 and "listed twice" in r.stderr
