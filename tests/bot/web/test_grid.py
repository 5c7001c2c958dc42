"""The grid preview page: queued posts in the order they go out (the last top-left) above the posted ones, a
carousel's stack marker, the tiles' images, and moving a post by two taps (a link, then a form with CSRF)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from bot import timeutil
from tests.bot.publish.conftest import at, make_carousel, make_draft, make_photo
from tests.bot.web.conftest import csrf_of

NOW = "2026-11-20T08:00:00+00:00"


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAWPOST_FAKE_NOW", NOW)


def tiles(html: str) -> list[str]:
    """The grid's tiles in page order: 'q<id>' a queued draft, 'p<id>' a posted one, 'i' an imported post."""
    out = []
    for item in re.findall(r'<li class="tile ([a-z ]+)"\s*(?:id="grid-draft-(\d+)")?', html):
        kind, draft = item
        out.append(("q" if "queued" in kind else "p" if draft else "i") + draft)
    return out


@pytest.fixture
def queued(web_store: Any) -> list[int]:
    first = make_draft(web_store, "first out", approved_at=at("2026-11-19 00:00"))
    second = make_carousel(web_store, "second out")
    web_store.update("drafts", second, approved_at="2026-11-19T00:01:00+00:00")
    third = make_draft(web_store, "third out", approved_at=at("2026-11-19 00:02"))
    return [first, second, third]


def test_the_grid_shows_the_queue_newest_first_above_the_posted(client, web_store, queued) -> None:
    old = make_draft(web_store, "posted before", status="posted")
    web_store.update("drafts", old, posted_at="2026-11-18T19:00:00+00:00")
    photo = make_photo(web_store, "imported")
    web_store.insert("imported_posts", media_id="m1", caption="long ago", taken_at="2026-11-01T12:00:00+00:00",
                     photo_id=photo, imported_at=NOW)

    page = client.get("/grid")

    assert page.status_code == 200
    first, second, third = queued
    assert tiles(page.text) == [f"q{third}", f"q{second}", f"q{first}", f"p{old}", "i"]
    assert page.text.count('class="mark stack"') == 1 and 'title="a carousel of 3"' in page.text
    assert 'href="/grid"' in page.text and "Grid</a>" in page.text  # in the nav
    # every tile's image is served, a draft's posted copy and the imported post's photo alike
    for src in re.findall(r'src="(/grid/photos/\d+/image)"', page.text):
        image = client.get(src)
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg", src


def test_a_photo_outside_the_grid_is_not_served(client, web_store) -> None:
    pending = make_draft(web_store, "pending", status="pending")
    photo = make_photo(web_store, "in no post")
    from bot.drafts.media import first_photo

    assert client.get(f"/grid/photos/{photo}/image").status_code == 404
    # a draft's first photo is a grid photo as soon as the draft is one (the page shows only queued and posted)
    assert client.get(f"/grid/photos/{first_photo(web_store, pending)}/image").status_code == 200


def test_tap_a_post_then_its_new_place(client, web_store, queued) -> None:
    first, second, third = queued
    shown = client.get("/grid")
    assert f'href="/grid?pick={first}#picking"' in shown.text and "/grid/move" not in shown.text

    picking = client.get(f"/grid?pick={first}")
    assert f"Moving draft {first}" in picking.text
    forms = re.findall(r'<form method="post" action="/grid/move">(.*?)</form>', picking.text, re.S)
    targets = [re.search(r'name="to" value="(\d+)"', f).group(1) for f in forms]
    assert targets == [str(third), str(second)]  # every other queued place, none for the picked one
    form = forms[0]
    data = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))

    done = client.post("/grid/move", data=data)

    assert done.status_code == 200 and f"Draft {first} now goes out at 2026-11-21 09:30" in done.text
    assert tiles(done.text) == [f"q{first}", f"q{second}", f"q{third}"]
    assert web_store.draft(first)["scheduled_for"] == timeutil.iso(at("2026-11-21 09:30"))
    assert web_store.draft(third)["scheduled_for"] == timeutil.iso(at("2026-11-20 09:30"))

    again = client.post("/grid/move", data=data)  # the same form once more: that place holds another post now
    assert again.status_code == 409 and "changed since" in again.text


def test_a_move_without_the_pages_token_is_refused(client, web_store, queued) -> None:
    first, _, third = queued
    refused = client.post("/grid/move", data={"draft": str(first), "to": str(third)})
    assert refused.status_code == 403
    assert web_store.draft(first)["scheduled_for"] is None


def test_a_move_to_a_post_not_queued_is_refused(client, web_store, queued) -> None:
    pending = make_draft(web_store, "pending", status="pending")
    token = csrf_of(client.get("/grid").text)
    refused = client.post("/grid/move", data={"csrf": token, "draft": str(queued[0]), "to": str(pending)})
    assert refused.status_code == 404 and "not among the queued posts" in refused.text
    assert client.post("/grid/move", data={"csrf": token, "draft": "x"}).status_code == 409


def test_the_grid_of_a_new_home_says_what_will_show(client) -> None:
    page = client.get("/grid")
    assert page.status_code == 200 and "Nothing queued or posted yet" in page.text


def test_the_page_says_when_the_next_times_are(client, web_store, queued) -> None:
    page = client.get("/grid")
    for hours in (1.5, 11, 25.5):
        assert timeutil.local(at("2026-11-20 08:00") + timedelta(hours=hours), "UTC") in page.text


def test_a_reel_shows_its_cover_frame_with_a_reel_mark(client, web_store) -> None:
    import io

    from PIL import Image

    from bot.drafts.media import add_draft
    from tests.videos import make_video

    (web_store.data_dir / "library").mkdir(parents=True, exist_ok=True)
    clip = make_video(web_store.data_dir / "library" / "walk.mp4", seconds=2.0, size=(320, 240), audio=False)
    photo = web_store.insert("photos", sha256="reel", status="drafted", source_name="walk.mp4",
                             path="library/walk.mp4", format="MP4", width=320, height=240,
                             size_bytes=clip.stat().st_size, kind="video", duration_s=2.0, cover_at=1.0,
                             created_at=NOW, updated_at=NOW)
    reel = add_draft(web_store, [photo], status="approved", caption="a walk", created_at=NOW, updated_at=NOW,
                     approved_at=NOW)

    page = client.get("/grid")
    image = client.get(f"/grid/photos/{photo}/image")

    assert f'id="grid-draft-{reel}"' in page.text and page.text.count('class="mark reel"') == 1
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(image.content)) as cover:
        assert cover.size == (320, 240)
    cached = list((web_store.data_dir / "prepared" / "grid").glob(f"{photo}-1.000.jpg"))
    assert len(cached) == 1 and client.get(f"/grid/photos/{photo}/image").content == image.content
