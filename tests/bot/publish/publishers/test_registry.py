"""The publishers' registry (bot/publish/publishers/registry.py): the config's name finds the one module, which is
imported only then; a new publisher is one module and one registry line; the one Poster is built on it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.doctor import check_instagram
from bot.errors import ConfigError
from bot.publish.factory import make_poster, make_publisher
from bot.publish.poster import Poster
from bot.publish.publishers import registry
from bot.status import status
from tests.bot.publish.conftest import make_draft, outbox_records
from tests.bot.publish.publishers import pigeon
from tests.conftest import run_cli, write_config


def test_make_publisher_follows_the_config(config, store):
    assert make_publisher(config, store).name == "dry-run"
    config.instagram.username = "lola"
    config.instagram.publisher = "instagrapi"
    assert make_publisher(config, store).name == "instagrapi"  # lazy: no client, no network yet
    config.instagram.publisher = "notify"
    assert make_publisher(config, store).name == "notify"


def test_make_poster_gives_a_poster_on_this_store_with_the_configured_publisher(config, store):
    poster = make_poster(store, config)
    try:
        assert isinstance(poster, Poster) and poster.store is store and poster.config is config
        assert poster.publisher.name == "dry-run" and poster.slots.store is store
    finally:
        poster.close()


def test_every_registered_module_exports_its_publisher():
    for name in registry.names():
        kind = registry.kind(name)
        assert kind.name == name and callable(kind.build) and callable(kind.doctor_checks) and callable(kind.login)
    from bot.config import InstagramConfig

    assert InstagramConfig().publisher == registry.names()[0]  # the config's default is the registry's first


def test_only_the_publisher_in_use_is_imported(home):
    script = ("import sys; from bot.publish.publishers.registry import load_checked_config, make_publisher; "
              f"c = load_checked_config({str(home / 'pawpost.toml')!r}); make_publisher(c, None).close(); "
              "print(sorted(m for m in ('instagrapi', 'requests', 'apprise', 'bot.publish.publishers.graph', "
              "'bot.publish.publishers.by_hand') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_unknown_publisher_is_refused_in_one_line_naming_the_known_ones(tmp_path):
    path = write_config(tmp_path / "h", {"instagram": {"publisher": "carrier-pigeon"}})
    with pytest.raises(ConfigError) as err:
        registry.load_checked_config(path)
    assert str(err.value) == (f"{path.resolve()}: instagram.publisher: 'carrier-pigeon' is not a publisher pawpost "
                              "knows (one of: dry-run, notify, graph, instagrapi)")


def test_a_new_publisher_is_one_module_and_one_registry_line(config, store, monkeypatch):
    monkeypatch.setitem(registry.MODULES, "pigeon", "tests.bot.publish.publishers.pigeon")  # the one line
    monkeypatch.setattr(pigeon, "POSTED", [])
    config.instagram.publisher = "pigeon"

    assert registry.config_problems(config) == [f"{config.source}: web.public_url is required for pigeons"]
    config.web.public_url = "https://pets.example.com"
    assert registry.config_problems(config) == []

    draft_id = make_draft(store, "Coo 🐦 #pigeon")
    poster = make_poster(store, config)
    try:
        result = poster.post_now(draft_id)
    finally:
        poster.close()
    assert result.status == "posted" and result.media_code == "P1"
    assert [p["caption"] for p in pigeon.POSTED] == ["Coo 🐦 #pigeon"] and outbox_records(config) == []
    attempt = store.one("SELECT container_id, media_id FROM attempts WHERE draft_id = ?", (draft_id,))
    assert dict(attempt) == {"container_id": f"nest-{draft_id}", "media_id": "pigeon1"}  # recorded by the poster

    [check] = check_instagram(config)
    assert check.message == "pigeon publisher: the birds are fed"
    assert status(store, config)["token_notice"] == "the pigeon needs seeds"
    assert registry.kind_for(config).login(config, store, lambda prompt, secret=False: "roof") == \
        "pigeon trained for roof"


def test_the_cli_refuses_an_unknown_publisher_before_the_command_runs(tmp_path):
    path = write_config(tmp_path / "h", {"instagram": {"publisher": "carrier-pigeon"}})
    r = run_cli("status", config=path, env={})
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "'carrier-pigeon' is not a publisher" in r.stderr
    r = run_cli("status", config=write_config(tmp_path / "e"), env={"PAWPOST_INSTAGRAM__PUBLISHER": "telegram"})
    assert r.returncode == 1 and "$PAWPOST_INSTAGRAM__PUBLISHER: instagram.publisher: 'telegram'" in r.stderr
