"""`pawpost history import` with publisher = "graph": the account's media list through the official API's transport,
against the fake graph.instagram.com (paging, carousels, videos, errors, rate limits) and its CDN."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from bot.errors import PawpostError
from tests.bot.photofiles import photo, picture
from tests.bot.publish.fake_graph import EXPIRED_TOKEN, RATE_LIMIT, SERVER_PAGE, UNKNOWN_ERROR, Refused
from tests.conftest import run_cli
from training.dataset import collect
from training.history import import_history

T0 = 1_700_000_000  # 2023-11-14
DAY = 86400


def shows(path: Any, n: int) -> bool:
    """Whether the library's photo at `path` is photo(n) (the library keeps its own encoding of it)."""
    import imagehash
    from PIL import Image

    with Image.open(path) as image:
        return imagehash.phash(image) - imagehash.phash(picture(n)) <= 4


@pytest.fixture
def account(gfake: Any, gtoken: Any) -> dict[str, dict[str, Any]]:
    """Seven older posts, oldest first: photos, an album led by a video, a video, one without a caption, one whose
    photo Instagram does not give out."""
    posts = {
        "first": gfake.post_older("My very first post! 🐶 #chihuahua #puppy", T0, image=photo(0)),
        "album": gfake.post_older("Rainy walks are the worst #rain", T0 + DAY,
                                  children=[("VIDEO", photo(91)), ("IMAGE", photo(92)), ("IMAGE", photo(93))]),
        "video": gfake.post_older("Zoomies at dawn", T0 + 2 * DAY, media_type="VIDEO", image=photo(2)),
        "silent": gfake.post_older("", T0 + 3 * DAY, image=photo(3)),
        "pico": gfake.post_older("Pico joined the family today!", T0 + 4 * DAY, image=photo(4)),
        "music": gfake.post_older("Dancing with Pico", T0 + 5 * DAY, image=photo(5)),
        "sofa": gfake.post_older("Sunday = sofa day", T0 + 6 * DAY, image=photo(6)),
    }
    del posts["music"]["media_url"]  # Instagram leaves media_url out of posts with copyrighted music
    return posts


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.publish.publishers.graph.history.PAGE_SIZE", 3)


def stored(store: Any) -> list[Any]:
    return store.all("SELECT i.media_id, i.media_code, i.caption, i.taken_at, i.photo_id, p.path, p.origin "
                     "FROM imported_posts i LEFT JOIN photos p ON p.id = i.photo_id ORDER BY i.taken_at")


def test_the_media_list_is_imported_page_by_page_with_albums_and_videos(g_config, g_store, gfake, account,
                                                                       small_pages):
    summary = import_history(g_store, g_config, recognize=False)

    assert (summary.found, summary.imported, summary.already, summary.no_image, summary.failed) == (7, 7, 0, 1, [])
    assert gfake.count("media_list") == 3  # 7 posts, 3 a page, followed by the `after` cursor
    rows = stored(g_store)
    order = ["first", "album", "video", "silent", "pico", "music", "sofa"]
    assert [r["media_id"] for r in rows] == [account[k]["id"] for k in order]
    assert [r["media_code"] for r in rows] == [account[k]["shortcode"] for k in order]
    assert rows[0]["caption"] == "My very first post! 🐶 #chihuahua #puppy"
    assert rows[0]["taken_at"] == "2023-11-14T22:13:20+00:00"
    assert {r["origin"] for r in rows if r["photo_id"]} == {"imported"}
    # Each photo is the post's own: the album's first photo (not its video's cover), the video's cover.
    kept = {k: g_store.abspath(r["path"]) if r["path"] else None for k, r in zip(order, rows, strict=True)}
    assert shows(kept["first"], 0) and shows(kept["album"], 92) and shows(kept["video"], 2)
    assert not shows(kept["album"], 91)
    assert kept["music"] is None  # no photo to import: its caption is kept
    assert rows[order.index("music")]["caption"] == "Dancing with Pico"
    examples, dropped = collect(g_store, need_photo=False)
    assert "Sunday = sofa day" in [e.caption for e in examples] and dropped["empty"] == 1

    again = import_history(g_store, g_config, recognize=False)
    assert (again.imported, again.already) == (0, 7)


def test_a_rate_limit_mid_listing_imports_what_was_listed_and_the_next_run_the_rest(g_config, g_store, gfake, account,
                                                                                   small_pages):
    gfake.fail_nth("media_list", 2, RATE_LIMIT[4])
    first = import_history(g_store, g_config, recognize=False)
    assert (first.found, first.imported) == (3, 3)  # the newest page
    assert "rate limit" in first.message() and "run the import again in an hour" in first.message()
    assert [r["caption"] for r in stored(g_store)] == ["Pico joined the family today!", "Dancing with Pico",
                                                      "Sunday = sofa day"]

    second = import_history(g_store, g_config, recognize=False)
    assert (second.found, second.imported, second.already, second.listing_cut) == (7, 4, 3, None)
    assert len(stored(g_store)) == 7


@pytest.mark.parametrize(("answer", "said"), [
    (RATE_LIMIT[17], "asked to slow down"),
    (EXPIRED_TOKEN, "run 'pawpost login'"),
    (UNKNOWN_ERROR, "run the import again later"),
    (SERVER_PAGE, "could not be read"),
    (Refused(), "did not reach Instagram"),
])
def test_a_listing_that_fails_at_once_is_one_clear_error_and_changes_nothing(g_config, g_store, gfake, account,
                                                                            answer, said):
    gfake.fail_next("media_list", answer)
    with pytest.raises(PawpostError, match=r"did not list the account's posts|slow down") as caught:
        import_history(g_store, g_config, recognize=False)
    assert said in str(caught.value)
    assert "IGlong-token" not in str(caught.value)
    assert stored(g_store) == []
    assert import_history(g_store, g_config, recognize=False).imported == 7


def test_a_photo_the_cdn_refuses_is_retried_by_the_next_run(g_config, g_store, gfake, account):
    gfake.cdn_broken.add(account["pico"]["media_url"])
    first = import_history(g_store, g_config, recognize=False)
    assert first.failed == [account["pico"]["shortcode"]] and first.imported == 6
    gfake.cdn_broken.clear()
    second = import_history(g_store, g_config, recognize=False)
    assert (second.imported, second.already, second.failed) == (1, 6, [])


def test_posts_pawpost_made_or_imported_before_are_not_imported_again(g_config, g_store, gfake, account):
    from tests.rows import START, add_posted

    draft = add_posted(g_store, "Posted by pawpost", START)
    g_store.update("drafts", draft, media_id=account["sofa"]["id"])
    # Imported earlier through instagrapi: another id for the same post, the same short code.
    with g_store.tx() as db:
        db.execute("INSERT INTO imported_posts (media_id, media_code, taken_at, caption, imported_at) "
                   "VALUES ('3141592653_4242', ?, '2023-11-18T22:13:20+00:00', 'Pico joined the family today!', "
                   "'2026-01-01T00:00:00+00:00')", (account["pico"]["shortcode"],))
    summary = import_history(g_store, g_config, recognize=False)
    assert (summary.imported, summary.already) == (5, 2)
    assert g_store.value("SELECT count(*) FROM imported_posts") == 6


def test_the_command_imports_through_the_official_api(g_config, gfake, account):
    from bot.cli import cli

    result = CliRunner().invoke(cli, ["--config", str(g_config.source), "history", "import", "--no-recognize",
                                      "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["found"], summary["imported"], summary["no_image"]) == (7, 7, 1)
    assert gfake.count("media_list") == 1


def test_without_a_token_the_command_says_to_log_in(g_config):
    result = run_cli("history", "import", "--no-recognize", config=g_config.source)
    assert result.returncode == 1, result.stderr
    assert "pawpost login" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
