"""Building the posting side from the config (bot/publish/factory.py): the publisher it names, and the one Poster."""

from __future__ import annotations

from bot.publish.factory import make_poster, make_publisher
from bot.publish.poster import Poster


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
