"""The whole of a carousel's life through the CLI: three shoots dropped into the inbox out of order and copied in
slowly become three carousels (drafts.carousel = "auto"), each led by its sharpest frame; one is reordered with
`drafts media ID move`, and each is approved and posted as a carousel: through dry-run, the instagrapi fake and the
official-API fake, every photo in the owner's order, no caption posted twice."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

from tests.bot.cli.test_shoots_cli import frame, keep_writing
from tests.bot.conftest import FAST_CAPTIONS
from tests.bot.publish.conftest import CLIENT
from tests.conftest import run_cli, write_config

SCHEDULE = {"timezone": "UTC", "slots": ["09:30", "19:00"], "jitter_minutes": 0, "max_posts_per_day": 5}


def joint_home(root: Path, models: dict[str, str], **sections: dict[str, Any]) -> Path:
    """The shoots home of tests/bot/cli/test_shoots_cli.py with drafts.carousel = "auto" (and `sections` over it)."""
    base: dict[str, dict[str, Any]] = {
        "models": {"device": "cpu", "batch_size": 4, **models, "detector": "none"},
        "captions": FAST_CAPTIONS,
        "ingest": {"stable_seconds": 1, "shoot_gap_seconds": 60, "shoot_settle_seconds": 3600},
        "drafts": {"carousel": "auto", "carousel_max": 6},
        "schedule": SCHEDULE,
        **sections,
    }
    return write_config(root, base, [])


def drop_three_shoots(inbox: Path) -> tuple[dict[tuple[int, int], str], list[Path]]:
    """Three bursts of three frames, out of order, the last four still being copied during the first ingest: the
    names, and the files still being copied."""
    files = [(s, n) for s in range(3) for n in range(3)]
    random.Random(11).shuffle(files)
    names = {(s, n): f"IMG_{i:04d}.jpg" for i, (s, n) in enumerate(files)}
    settled = time.time() - 120
    for key in files[:5]:
        (inbox / names[key]).write_bytes(frame(*key))
        os.utime(inbox / names[key], (settled, settled))
    for key in files[5:]:
        (inbox / names[key]).write_bytes(frame(*key)[:1000])
    return names, [inbox / names[key] for key in files[5:]]


def test_three_shoots_become_carousels_one_reordered_and_each_posted_on_every_publisher(tmp_path, pipeline_models):
    import responses

    from bot.config import load_config
    from bot.publish.prepare import prepared_copy
    from bot.store.database import Store

    root = tmp_path / "home"
    config_path = joint_home(root, pipeline_models)
    inbox = root / "inbox"
    names, copying = drop_three_shoots(inbox)
    done = threading.Event()
    copier = threading.Thread(target=keep_writing, args=(copying, done))
    copier.start()
    try:
        early = run_cli("ingest", config=config_path)
    finally:
        done.set()
        copier.join()
    assert early.returncode == 0, early.stderr
    settled = time.time() - 120
    for path in copying:  # the copy finishes
        key = next(k for k, name in names.items() if name == path.name)
        path.write_bytes(frame(*key))
        os.utime(path, (settled, settled))
    ingested = run_cli("ingest", config=config_path)
    assert ingested.returncode == 0, ingested.stderr

    drafts = json.loads(run_cli("drafts", "list", "--json", config=config_path).stdout)
    assert len(drafts) == 3 and all(len(d["media"]) >= 2 for d in drafts)  # three carousels (of distinct shots)
    by_name = {v: k for k, v in names.items()}
    for d in drafts:
        assert by_name[d["media"][0]["file_name"]][1] == 0  # led by its sharpest frame

    # The owner puts the last photo of the first carousel first.
    first = drafts[0]
    last = first["media"][-1]["photo_id"]
    moved = run_cli("drafts", "media", str(first["id"]), "move", str(last), "1", config=config_path)
    assert moved.returncode == 0, moved.stderr
    listed = json.loads(run_cli("drafts", "media", str(first["id"]), "list", "--json", config=config_path).stdout)
    order = {first["id"]: [m["photo_id"] for m in listed["media"]]}
    assert order[first["id"]][0] == last
    for d in drafts[1:]:
        order[d["id"]] = [m["photo_id"] for m in d["media"]]
    for n, d in enumerate(drafts):
        approved = run_cli("drafts", "approve", str(d["id"]), "--caption", f"Burst number {n} #dog",
                           config=config_path)
        assert approved.returncode == 0, approved.stderr
    config = load_config(config_path)
    with Store.for_config(config) as store:
        expected = {draft_id: [prepared_copy(store, pid).read_bytes() for pid in ids]
                    for draft_id, ids in order.items()}

    # 1. dry-run, `pawpost post ID` in its own process.
    posted = run_cli("post", str(first["id"]), config=config_path)
    assert posted.returncode == 0, posted.stderr
    (record,) = [json.loads(p.read_text()) for p in config.paths.outbox.glob("*.json")]
    folder = config.paths.outbox / record["image"].split("/")[0]
    assert [p.read_bytes() for p in sorted(folder.glob("*.jpg"))] == expected[first["id"]]  # the owner's order

    # 2. the instagrapi fake.
    from bot.publish.publishers.instagrapi.session import Transport, make_client, use_transport
    from tests.bot.publish.fake_instagram import FakeInstagram

    instagram = FakeInstagram()
    joint_home(root, pipeline_models, instagram={"publisher": "instagrapi", "username": instagram.username,
                                                 "password": instagram.password})
    second = drafts[1]["id"]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps, use_transport(Transport.requests()):
        instagram.install(rsps)
        with Store.for_config(load_config(config_path)) as store:
            make_client(load_config(config_path), store, **CLIENT)
        assert _main(config_path, "post", str(second)) == 0
    (album,) = instagram.media
    assert album["media_type"] == 8 and len(album["carousel_media"]) == len(order[second])
    assert album["caption"]["text"].startswith("Burst number 1 #dog")
    assert instagram.count("configure_sidecar") == 1 and instagram.count("upload") == len(order[second])

    # 3. the official-API fake.
    from bot.publish.publishers.graph.token import TokenRecord, save_token
    from tests.bot.publish.fake_graph import PUBLIC, FakeGraph, serve_staged

    joint_home(root, pipeline_models, instagram={"publisher": "graph"}, graph={"public_base_url": PUBLIC})
    config = load_config(config_path)
    graph = FakeGraph(fetch=serve_staged(config))
    save_token(config.graph_token_file, TokenRecord("IGlong-token-000", graph.user_id, graph.username, "BUSINESS"))
    third = drafts[2]["id"]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        graph.install(rsps)
        assert _main(config_path, "post", str(third)) == 0
    (carousel,) = graph.media
    assert carousel["media_type"] == "CAROUSEL_ALBUM" and [c["image"] for c in carousel["children"]] == \
        expected[third]
    graph.assert_exactly_once()

    with Store.for_config(config) as store:
        assert {r[0] for r in store.all("SELECT status FROM drafts")} == {"posted"}
    assert all(n == 1 for n in instagram.created().values())


def _main(config_path: Path, *args: str) -> int:
    from bot.cli import main

    try:
        main(["--config", str(config_path), *args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
