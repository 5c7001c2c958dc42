"""The whole of a Reel's life through the CLI: three clips of Lola dropped into the inbox become three Reel drafts
(`pawpost ingest`: a cover, her name, a caption); each is approved and posted as a Reel: through dry-run (the MP4 in
the outbox keeps Instagram's Reels rules, read back from the file), through the instagrapi fake whose
configure_to_clips answer is lost after the Reel was made, and through the official-API fake whose container takes
a while and whose media_publish answer is lost after it published: each is settled by `pawpost reconcile`, never
sent twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.bot.conftest import pipeline_home
from tests.bot.publish.conftest import CLIENT
from tests.bot.publish.test_carousel_joint import _main
from tests.conftest import run_cli
from tests.tiny_captions import scripted_vlm  # noqa: F401
from tests.tiny_vision import pet_photo
from tests.videos import make_video

SECTIONS: dict[str, dict[str, Any]] = {
    "ingest": {"video_frames": 4},
    "captions": {"voice": "playful, about the dog, one or two emojis", "max_new_tokens": 16},
    "reels": {"width": 360, "preset": "superfast"},
    "schedule": {"timezone": "UTC", "slots": ["09:30", "19:00"], "jitter_minutes": 0, "max_posts_per_day": 5},
}


def lola_walks(i: int, count: int, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(pet_photo("red", i % 3, size))


def test_three_clips_become_reels_each_posted_once_on_every_publisher(tmp_path, pipeline_models,
                                                                     scripted_vlm: Path) -> None:  # noqa: F811
    import responses

    from bot.config import load_config
    from bot.store.database import Store
    from bot.video.reelcheck import reel_problems

    home = tmp_path / "home"
    models = {**pipeline_models, "captioner": str(scripted_vlm)}
    config_path = pipeline_home(home, models, **SECTIONS)
    for n in range(3):  # three different clips (lengths), each at least Instagram's shortest Reel
        make_video(home / "inbox" / f"walk{n}.mp4", seconds=3.0 + n / 2, fps=6, size=(96, 80), draw=lola_walks)
    done = run_cli("ingest", config=config_path, timeout=300)
    assert done.returncode == 0, done.stderr

    drafts = sorted(json.loads(run_cli("drafts", "list", "--json", config=config_path).stdout), key=lambda d: d["id"])
    assert len(drafts) == 3
    for d in drafts:
        assert d["kind"] == "video" and 0 <= d["cover_at"] < d["duration_s"] and d["pets"] == ["Lola"]
        assert d["caption"] and [m["kind"] for m in d["media"]] == ["video"]
    captions = {d["id"]: f"Reel number {n} #dog" for n, d in enumerate(drafts)}
    for draft_id, caption in captions.items():
        approved = run_cli("drafts", "approve", str(draft_id), "--caption", caption, config=config_path)
        assert approved.returncode == 0, approved.stderr
    first, second, third = captions

    # 1. dry-run, `pawpost post ID` in its own process: the Reel file keeps Instagram's rules.
    posted = run_cli("post", str(first), config=config_path, timeout=300)
    assert posted.returncode == 0, posted.stderr
    config = load_config(config_path)
    (record,) = [json.loads(p.read_text()) for p in config.paths.outbox.glob("*.json")]
    reel = config.paths.outbox / record["video"]
    assert reel_problems(reel) == [] and (config.paths.outbox / record["image"]).read_bytes()[:2] == b"\xff\xd8"
    assert record["caption"].startswith(captions[first]) and record["media"][0]["kind"] == "video"

    # 2. the instagrapi fake: the configure_to_clips answer is lost after the Reel was made.
    from bot.publish.publishers.instagrapi.session import Transport, make_client, use_transport
    from tests.bot.publish.fake_instagram import FakeInstagram, Lost

    instagram = FakeInstagram()
    pipeline_home(home, models, **SECTIONS, instagram={"publisher": "instagrapi", "username": instagram.username,
                                                       "password": instagram.password})
    instagram.fail_next("configure_clip", Lost("timeout", lands=True))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps, use_transport(Transport.requests()):
        instagram.install(rsps)
        with Store.for_config(load_config(config_path)) as store:
            make_client(load_config(config_path), store, **CLIENT)
        _main(config_path, "post", str(second))
        assert _status(config_path, second) == "publishing"  # unsettled: Instagram's answer never came
        assert _main(config_path, "reconcile", str(second)) == 0
    (clip,) = instagram.media
    assert clip["media_type"] == 2 and clip["product_type"] == "clips"
    assert clip["caption"]["text"].startswith(captions[second]) and instagram.count("configure_clip") == 1

    # 3. the official-API fake: the container is processed for a while; the media_publish answer is lost.
    from bot.publish.publishers.graph.token import TokenRecord, save_token
    from tests.bot.publish.fake_graph import PUBLIC, FakeGraph
    from tests.bot.publish.fake_graph import Lost as GraphLost

    pipeline_home(home, models, **SECTIONS, instagram={"publisher": "graph"}, graph={"public_base_url": PUBLIC})
    config = load_config(config_path)
    graph = FakeGraph(fetch=_served(config))
    graph.in_progress_polls = 2
    graph.fail_next("media_publish", GraphLost(lands=True))
    save_token(config.graph_token_file, TokenRecord("IGlong-token-000", graph.user_id, graph.username, "BUSINESS"))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        graph.install(rsps)
        _main(config_path, "post", str(third))
        assert _status(config_path, third) == "publishing"
        assert _main(config_path, "reconcile", str(third)) == 0
    (video,) = graph.media
    assert (video["media_type"], video["media_product_type"]) == ("VIDEO", "REELS")
    assert video["caption"].startswith(captions[third])
    sent = tmp_path / "sent.mp4"
    sent.write_bytes(video["video"])
    assert reel_problems(sent) == [] and graph.count("media_publish") == 1
    graph.assert_exactly_once()

    with Store.for_config(config) as store:
        assert {r[0] for r in store.all("SELECT status FROM drafts")} == {"posted"}
    assert all(n == 1 for n in instagram.created().values())


def _status(config_path: Path, draft_id: int) -> str:
    shown = run_cli("drafts", "show", str(draft_id), "--json", config=config_path)
    return json.loads(shown.stdout)["status"]


def _served(config: Any) -> Any:
    from tests.bot.publish.fake_graph import serve_staged

    return serve_staged(config)


@pytest.fixture(autouse=True)
def _quick(no_sleep: None) -> None:
    """No real waits between status checks (the fake answers at once)."""
