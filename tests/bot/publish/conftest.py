"""Fixtures for publishing tests: drafts made directly in the store, a fake Instagram behind `responses`."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import timeutil
from bot.drafts.media import add_draft
from tests.bot.publish.fake_instagram import FakeInstagram
from tests.conftest import write_config

CLIENT = {"private_transport": "requests", "request_timeout": 0}


def jpeg(size: tuple[int, int] = (400, 500), colour: tuple[int, int, int] = (200, 150, 90), **save: Any) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", quality=85, **save)
    return buf.getvalue()


def make_draft(store: Any, caption: str = "Sunday blanket day 🐶 #chihuahua #rescuedog", *,
               status: str = "approved", size: tuple[int, int] = (400, 500), data: bytes | None = None,
               scheduled_for: datetime | None = None, approved_at: datetime | None = None,
               boxes: list[list[float]] | None = None) -> int:
    """A photo (a real JPEG under data/library, status drafted) and its draft, as the pipeline leaves them."""
    photo_id = make_photo(store, caption, size=size, data=data, boxes=boxes)
    return _draft(store, [photo_id], caption, status, scheduled_for, approved_at)


def make_carousel(store: Any, caption: str = "Three of us on the sofa 🐶 #chihuahua", *,
                  sizes: list[tuple[int, int]] | None = None, boxes: list[list[list[float]] | None] | None = None,
                  status: str = "approved", scheduled_for: datetime | None = None) -> int:
    """A carousel draft: a photo per size (three by default, of different shapes and colours), in that order, each
    with its pets' boxes (`boxes[i]`), made through bot.drafts.media.add_draft as the pipeline makes one."""
    sizes = sizes or [(1200, 900), (600, 900), (1000, 1000)]
    boxes = boxes or [None] * len(sizes)
    photo_ids = [make_photo(store, f"{caption} {i}", size=size, boxes=box,
                            data=jpeg(size, (40 + 60 * i, 150, 200 - 50 * i)))
                 for i, (size, box) in enumerate(zip(sizes, boxes, strict=True))]
    return _draft(store, photo_ids, caption, status, scheduled_for, None)


def make_photo(store: Any, seed: str, *, size: tuple[int, int] = (400, 500), data: bytes | None = None,
               boxes: list[list[float]] | None = None) -> int:
    """A photo: a real JPEG under data/library, status drafted, with detected animals at `boxes`."""
    data = data if data is not None else jpeg(size)
    sha = hashlib.sha256(data + seed.encode()).hexdigest()
    path = store.data_dir / "library" / f"{sha[:12]}.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    now = timeutil.iso(timeutil.now())
    analysis = {"animals": [{"box": b, "score": 0.9, "label": "dog", "pet": None} for b in boxes or []]}
    return store.insert("photos", sha256=sha, status="drafted", source_name=path.name,
                        path=f"library/{path.name}", format="JPEG", width=size[0], height=size[1],
                        size_bytes=len(data), analysis=json.dumps(analysis), created_at=now, updated_at=now)


def _draft(store: Any, photo_ids: list[int], caption: str, status: str, scheduled_for: datetime | None,
           approved_at: datetime | None) -> int:
    now = timeutil.iso(timeutil.now())
    return add_draft(store, photo_ids, status=status, caption=caption, created_at=now, updated_at=now,
                     scheduled_for=timeutil.iso(scheduled_for),
                     approved_at=timeutil.iso(approved_at or timeutil.now()) if status == "approved" else None)


def at(text: str) -> datetime:
    """'2026-11-20 09:30' in UTC (tests below use a UTC schedule unless they say otherwise)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_sleep(no_sleep: None) -> None:
    """instagrapi sleeps between requests (and for seconds in its login flow): not in the publishing tests."""


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> Iterator[FakeInstagram]:
    """The fake Instagram; after every test that uses it, the invariant: no caption was posted twice (a configure
    that made a post happened at most once per draft). A module that shows a double post on purpose (the
    instagrapi contract suite) sets DOUBLE_POSTS_EXPECTED."""
    import responses

    instagram = FakeInstagram()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        instagram.install(rsps)
        yield instagram
    if not getattr(request.module, "DOUBLE_POSTS_EXPECTED", False):
        if instagram.state is not None and instagram.state.exists():
            instagram.load()  # child processes posted through the shared account
        doubled = {caption: n for caption, n in instagram.created().items() if n > 1}
        assert not doubled, f"posted more than once: {doubled}"


@pytest.fixture
def shared_account(ig_config: Any, ig_store: Any, fake: FakeInstagram, logged_in: None,
                   tmp_path: Path) -> FakeInstagram:
    """The fake's account in a file, so that child processes (and a restart) see the same Instagram."""
    fake.state = tmp_path / "account.json"
    fake.save()
    return fake


@pytest.fixture
def ig_home(tmp_path: Path, fake: FakeInstagram) -> Path:
    root = tmp_path / "ig"
    write_config(root, {
        "instagram": {"publisher": "instagrapi", "username": fake.username, "password": fake.password,
                      "cooldown_hours": 6},
        "schedule": {"timezone": "UTC", "slots": ["09:30", "19:00"], "jitter_minutes": 0, "max_posts_per_day": 2,
                     "catch_up_minutes": 60},
    })
    return root


@pytest.fixture
def ig_config(ig_home: Path) -> Any:
    from bot.config import load_config

    return load_config(ig_home / "pawpost.toml")


@pytest.fixture
def ig_store(ig_config: Any) -> Iterator[Any]:
    from bot.store.database import Store

    store = Store.for_config(ig_config)
    yield store
    store.close()


@pytest.fixture
def logged_in(ig_config: Any, ig_store: Any, fake: FakeInstagram) -> None:
    """A saved session, as `pawpost login` leaves it."""
    from bot.publish.publishers.instagrapi.session import make_client

    make_client(ig_config, ig_store, **CLIENT)
    assert fake.count("login") == 1


# -- the official API (publisher = "graph"): a fake graph.instagram.com -------------------------------------------

@pytest.fixture
def g_config(tmp_path: Path) -> Any:
    from bot.config import load_config
    from tests.bot.publish.fake_graph import graph_home

    return load_config(graph_home(tmp_path) / "pawpost.toml")


@pytest.fixture
def g_store(g_config: Any) -> Iterator[Any]:
    from bot.store.database import Store

    store = Store.for_config(g_config)
    yield store
    store.close()


@pytest.fixture
def gfake(g_config: Any) -> Iterator[Any]:
    """The fake API; at the end it checks that no draft and no container was published twice."""
    import responses

    from tests.bot.publish.fake_graph import FakeGraph, serve_staged

    graph = FakeGraph(fetch=serve_staged(g_config))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        graph.install(rsps)
        yield graph
    graph.assert_exactly_once()


@pytest.fixture
def gtoken(g_config: Any, gfake: Any) -> Any:
    """A long-lived token as `pawpost login` leaves it: issued two hours before 2026-11-20 09:30, 60 days."""
    from datetime import timedelta

    from bot.publish.publishers.graph.token import TokenRecord, save_token

    issued = at("2026-11-20 07:30")
    record = TokenRecord("IGlong-token-000", gfake.user_id, gfake.username, "BUSINESS", timeutil.iso(issued),
                         timeutil.iso(issued + timedelta(days=60)))
    save_token(g_config.graph_token_file, record)
    return record


@pytest.fixture
def poster(config: Any, store: Any) -> Any:
    """A Poster with the dry-run publisher on the example config: UTC slots 09:30 and 19:00, cap 2, catch-up 60
    minutes; no jitter, for exact times."""
    from bot.publish.poster import Poster
    from bot.publish.publishers.dryrun import DryRunPublisher

    config.schedule.jitter_minutes = 0
    return Poster(store, config, DryRunPublisher(config.paths.outbox))


def status_of(store: Any, draft_id: int) -> str | None:
    return store.value("SELECT status FROM drafts WHERE id = ?", (draft_id,))


def outbox_records(config: Any) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(config.paths.outbox.glob("*.json"))]
