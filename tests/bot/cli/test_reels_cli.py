"""A clip through the CLI: `pawpost ingest` makes it a Reel draft with its cover, pets and caption; `drafts list`,
`show` and `review` show its length and cover; `drafts cover` changes the cover; a Live Photo is one photo draft."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from tests.bot.conftest import pipeline_home
from tests.conftest import run_cli
from tests.tiny_captions import scripted_vlm  # noqa: F401
from tests.tiny_vision import pet_jpeg, pet_photo
from tests.videos import live_photo_exif, make_video

# The scripted caption model writes about Lola in the third person, in full sentences.
ABOUT_THE_PET = {"voice": "playful, about the dog, one or two emojis", "max_new_tokens": 16}


def lola_walks(i: int, count: int, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(pet_photo("red", i % 3, size))


@pytest.fixture(scope="module")
def reel_home(tmp_path_factory: pytest.TempPathFactory, pipeline_models: dict[str, str],
              scripted_vlm: Path) -> tuple[Path, Path]:  # noqa: F811
    """A home whose inbox held a clip of Lola (and a broken one); `pawpost ingest` has run."""
    home = tmp_path_factory.mktemp("reels") / "home"
    config = pipeline_home(home, {**pipeline_models, "captioner": str(scripted_vlm)}, ingest={"video_frames": 4},
                           captions=ABOUT_THE_PET)
    make_video(home / "inbox" / "walk.mp4", seconds=2.0, fps=6, size=(96, 80), draw=lola_walks)
    (home / "inbox" / "broken.mov").write_bytes(b"\x00\x00\x00\x18ftypqt  " + b"\x00" * 500)
    done = run_cli("ingest", "--json", config=config, timeout=300)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["accepted"] == 1 and doc["quarantined"] == 1
    [broken] = [f for f in doc["files"] if f["status"] == "quarantined"]
    assert broken["source_name"] == "broken.mov" and "not a readable video" in broken["reason"]
    assert (doc["processed"]["analyzed"], doc["processed"]["drafted"]) == (1, 1)
    return home, config


def test_a_clip_becomes_a_reel_draft_with_cover_pets_and_caption(reel_home) -> None:
    _, config = reel_home
    [draft] = json.loads(run_cli("drafts", "list", "--json", config=config).stdout)
    assert draft["kind"] == "video" and draft["duration_s"] == pytest.approx(2.0, abs=0.1)
    assert 0 <= draft["cover_at"] < draft["duration_s"]
    assert draft["pets"] == ["Lola"]
    assert draft["caption"].startswith("Lola") and draft["candidates"]
    [medium] = draft["media"]
    assert medium["kind"] == "video" and medium["file_name"] == "walk.mp4" and medium["path"].endswith(".mp4")
    assert medium["cover_at"] == draft["cover_at"] and medium["duration_s"] == draft["duration_s"]


def test_show_and_list_say_the_length_and_the_cover(reel_home) -> None:
    _, config = reel_home
    [draft] = json.loads(run_cli("drafts", "list", "--json", config=config).stdout)
    shown = json.loads(run_cli("drafts", "show", str(draft["id"]), "--json", config=config).stdout)
    assert (shown["kind"], shown["duration_s"], shown["cover_at"]) == ("video", draft["duration_s"],
                                                                       draft["cover_at"])
    text = run_cli("drafts", "show", str(draft["id"]), config=config)
    assert text.returncode == 0, text.stderr
    assert "video:" in text.stdout and "length 0:02.0" in text.stdout
    assert f"cover at {draft['cover_at']:.1f} s" in text.stdout and "drafts cover" in text.stdout
    drawn = run_cli("drafts", "show", str(draft["id"]), "--preview", config=config)
    assert drawn.returncode == 0, drawn.stderr
    assert "\x1b[38;2;" in drawn.stdout  # the cover frame, drawn in colour half-blocks
    listed = run_cli("drafts", "list", config=config)
    assert "walk.mp4 [video 0:02.0]" in listed.stdout
    review = run_cli("drafts", "review", config=config, input="s\n")
    assert review.returncode == 0, review.stderr
    assert "video" in review.stdout and "length 0:02.0" in review.stdout


def test_the_owner_picks_another_cover(reel_home) -> None:
    _, config = reel_home
    [draft] = json.loads(run_cli("drafts", "list", "--json", config=config).stdout)
    picked = run_cli("drafts", "cover", str(draft["id"]), "0.5", "--json", config=config)
    assert picked.returncode == 0, picked.stderr
    assert json.loads(picked.stdout)["cover_at"] == 0.5
    assert json.loads(run_cli("drafts", "show", str(draft["id"]), "--json", config=config).stdout)["cover_at"] == 0.5
    said = run_cli("drafts", "cover", str(draft["id"]), "1.25", config=config)
    assert said.returncode == 0 and "cover at 1.2 s" in said.stdout  # 1.25 shown to a tenth
    for wrong in ("2.0", "7", "nan"):
        refused = run_cli("drafts", "cover", str(draft["id"]), wrong, config=config)
        assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
        assert "pick a cover time from 0 to under 2.00 seconds" in refused.stderr
    assert json.loads(run_cli("drafts", "show", str(draft["id"]), "--json", config=config).stdout)["cover_at"] == 1.25
    events = run_cli("drafts", "cover", "999", "1", config=config)
    assert events.returncode == 1 and "there is no draft 999" in events.stderr


def test_a_live_photo_pair_yields_one_photo_draft(tmp_path: Path, pipeline_models: dict[str, str]) -> None:
    home = tmp_path / "home"
    config = pipeline_home(home, pipeline_models)
    taken = datetime(2026, 5, 2, 9, 30, tzinfo=UTC)
    inbox = home / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    import io

    from PIL import Image

    still = Image.open(io.BytesIO(pet_jpeg("blue", 7)))
    still.save(inbox / "IMG_2001.HEIC.jpg", "JPEG", exif=live_photo_exif("5E1F-PAIR", taken))
    make_video(inbox / "IMG_2001.MOV", seconds=1.5, size=(96, 80), content_id="5E1F-PAIR", creation_time=taken)
    done = run_cli("ingest", config=config, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "duplicate: IMG_2001.MOV is the motion of Live Photo #1" in done.stdout
    drafts = json.loads(run_cli("drafts", "list", "--json", config=config).stdout)
    assert len(drafts) == 1 and drafts[0]["kind"] == "photo" and drafts[0]["source_name"] == "IMG_2001.HEIC.jpg"
    photo_draft = run_cli("drafts", "cover", str(drafts[0]["id"]), "0", config=config)
    assert photo_draft.returncode == 1 and "not a Reel" in photo_draft.stderr
