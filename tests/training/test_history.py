"""`pawpost history import` against a fake Instagram: the real instagrapi client over `responses`."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.bot.publish.conftest import CLIENT, jpeg
from tests.bot.publish.fake_instagram import LOGIN_REQUIRED, FakeInstagram
from tests.conftest import write_config
from training.dataset import collect
from training.history import import_history

CDN = "https://scontent.cdninstagram.com"
FEED = re.compile(r"https://i\.instagram\.com/api/v1/feed/user/\d+/.*")
PAGE = 4  # the fake feed's page size, so a small account spans several pages
T0 = 1_700_000_000  # 2023-11-14


def post(i: int, caption: str | None, media_type: int = 1) -> dict[str, Any]:
    image = {"candidates": [{"width": 48, "height": 40, "url": f"{CDN}/p{i}.jpg"}]}
    item: dict[str, Any] = {"pk": 9000 + i, "id": f"{9000 + i}_4242", "code": f"OLD{i}", "media_type": media_type,
                            "taken_at": T0 + i * 86400, "caption": {"text": caption} if caption else None,
                            "user": {"pk": "4242", "username": "lola"}, "like_count": 0, "comment_count": 0}
    if media_type == 8:  # an album whose first item is a video: its first photo is imported
        item["carousel_media"] = [
            {"pk": 80 + i, "id": f"{80 + i}_4242", "media_type": 2,
             "image_versions2": {"candidates": [{"width": 48, "height": 40, "url": f"{CDN}/cover{i}.jpg"}]},
             "video_versions": [{"url": f"{CDN}/v{i}.mp4", "width": 48, "height": 40}]},
            {"pk": 90 + i, "id": f"{90 + i}_4242", "media_type": 1, "image_versions2": image},
        ]
    else:
        item["image_versions2"] = image
    return item


class PagedInstagram(FakeInstagram):
    """The publishing tests' fake Instagram, whose user feed pages by max_id, with the account's images on a CDN."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        super().__init__()
        self.items = sorted(items, key=lambda m: -m["taken_at"])  # the feed: newest first
        self.images = {f"p{m['pk'] - 9000}.jpg": jpeg((48, 40), (n * 20, 255 - n * 20, n * 140 % 256))
                       for n, m in enumerate(self.items)}
        self.downloads: list[str] = []
        self.broken: set[str] = set()
        self.feed_errors: list[tuple[int, dict[str, Any]]] = []

    def _handle(self, request: Any) -> tuple[int, dict[str, str], str]:
        if not FEED.match(request.url):
            return super()._handle(request)
        self.received.append((request.method, "feed"))
        if not self._authorized(request):
            return LOGIN_REQUIRED[0], {}, json.dumps(LOGIN_REQUIRED[1])
        if self.feed_errors:
            status, payload = self.feed_errors.pop(0)
            return status, {}, json.dumps(payload)
        query = parse_qs(urlsplit(request.url).query)
        start = int(query.get("max_id", ["0"])[0])
        page = self.items[start:start + PAGE]
        more = start + PAGE < len(self.items)
        return 200, {}, json.dumps({"items": page, "num_results": len(page), "more_available": more,
                                    "next_max_id": str(start + PAGE) if more else None, "status": "ok"})

    def cdn(self, request: Any) -> tuple[int, dict[str, str], bytes]:
        name = urlsplit(request.url).path.lstrip("/")
        self.downloads.append(name)
        if name in self.broken or name not in self.images:
            return 503, {}, b"busy"
        return 200, {"Content-Type": "image/jpeg"}, self.images[name]


ITEMS = [
    post(0, "My very first post! 🐶 #chihuahua #puppy"),
    post(1, "Blanket fort, day two. @auntie_rosa come visit"),
    post(2, "Rainy walks are the worst #rain", media_type=8),
    post(3, None),  # no caption: imported, but not a training example
    post(4, "Pico joined the family today!"),
    post(5, "Sunday = sofa day"),
    post(6, "Treats or it didn't happen"),
]


pytestmark = pytest.mark.usefixtures("no_sleep")  # instagrapi's pauses between requests


@pytest.fixture
def account() -> Iterator[PagedInstagram]:
    import responses

    fake = PagedInstagram(ITEMS)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback("GET", re.compile(rf"{re.escape(CDN)}/.*"), callback=fake.cdn)
        fake.install(rsps)
        yield fake


@pytest.fixture
def ig(tmp_path: Path, account: PagedInstagram):
    from bot.config import load_config
    from bot.store.database import Store

    path = write_config(tmp_path / "ig", {"instagram": {"publisher": "instagrapi", "username": account.username,
                                                        "password": account.password}})
    config = load_config(path)
    store = Store.for_config(config)
    yield config, store, path
    store.close()


def client(config: Any, store: Any) -> Any:
    """The history reader over the real instagrapi client, as `history import` builds it (no pauses)."""
    from bot.publish.publishers.instagrapi.history import InstagrapiHistory
    from bot.publish.publishers.instagrapi.publisher import make_client

    return InstagrapiHistory(make_client(config, store, **CLIENT), config)


def test_import_downloads_every_post_and_pages_through_the_feed(ig, account):
    config, store, _ = ig
    summary = import_history(store, config, reader=client(config, store), recognize=False)

    assert (summary.found, summary.imported, summary.already, summary.failed) == (7, 7, 0, [])
    assert account.count("feed") == 2  # 7 posts, 4 per page
    rows = store.all("SELECT i.media_code, i.caption, i.taken_at, p.origin, p.status, p.source_name "
                     "FROM imported_posts i JOIN photos p ON p.id = i.photo_id ORDER BY i.taken_at")
    assert [r["media_code"] for r in rows] == [f"OLD{i}" for i in range(7)]
    assert {(r["origin"], r["status"]) for r in rows} == {("imported", "new")}
    assert rows[0]["caption"] == "My very first post! 🐶 #chihuahua #puppy"
    assert rows[0]["taken_at"] == "2023-11-14T22:13:20+00:00"
    assert rows[0]["source_name"] == "instagram/OLD0.jpg"
    # The album's first photo, not its video cover.
    assert "p2.jpg" in account.downloads and "cover2.jpg" not in account.downloads
    for r in store.all("SELECT path FROM photos"):
        assert store.abspath(r["path"]).is_file()
    # The imported posts are training examples (the one without a caption is not).
    examples, dropped = collect(store, need_photo=True)
    assert [e.caption for e in examples][:3] == ["My very first post! 🐶", "Blanket fort, day two. come visit",
                                                 "Rainy walks are the worst"]
    assert len(examples) == 6 and dropped["empty"] == 1


def test_import_resumes_after_an_interruption_and_retries_failed_images(ig, account):
    config, store, _ = ig
    stop = threading.Event()
    account.broken.add("p1.jpg")

    def interrupt_after_three(phase: str, done: int, total: int, loss: float | None) -> None:
        if phase == "import" and done == 3:
            stop.set()  # what SIGTERM does

    first = import_history(store, config, reader=client(config, store), recognize=False,
                           progress=interrupt_after_three, stop=stop)
    assert first.stopped
    assert first.failed == ["OLD1"]  # the CDN refused it: not recorded, so the next run tries again
    assert first.imported == 2
    assert store.value("SELECT count(*) FROM imported_posts") == 2

    account.broken.clear()
    downloads_before = len(account.downloads)
    second = import_history(store, config, reader=client(config, store), recognize=False)
    assert not second.stopped and second.failed == []
    assert (second.imported, second.already) == (5, 2)
    assert store.value("SELECT count(*) FROM imported_posts") == 7
    # Nothing already imported was downloaded again.
    assert sorted(account.downloads[downloads_before:]) == sorted(f"p{i}.jpg" for i in (1, 3, 4, 5, 6))
    assert store.value("SELECT count(*) FROM photos") == 7

    third = import_history(store, config, reader=client(config, store), recognize=False)
    assert (third.imported, third.already) == (0, 7)


def test_pawposts_own_posts_are_not_imported_again(ig, account):
    config, store, _ = ig
    from tests.rows import START, add_posted

    draft = add_posted(store, "Posted by pawpost", START)
    store.update("drafts", draft, media_id="9005")  # the feed's OLD5 is this draft's post
    summary = import_history(store, config, reader=client(config, store), recognize=False)
    assert (summary.imported, summary.already) == (6, 1)
    assert store.value("SELECT count(*) FROM imported_posts WHERE media_code = 'OLD5'") == 0


def test_a_failed_listing_is_one_clear_error_and_changes_nothing(ig, account):
    from bot.errors import PawpostError
    from tests.bot.publish.fake_instagram import SERVER_ERROR

    config, store, _ = ig
    ig_client = client(config, store)
    account.feed_errors.append(SERVER_ERROR)
    with pytest.raises(PawpostError, match="did not list the account's posts"):
        import_history(store, config, reader=ig_client, recognize=False)
    assert store.value("SELECT count(*) FROM imported_posts") == 0
    assert import_history(store, config, reader=ig_client, recognize=False).imported == 7
