"""Alt text on every publisher: written from the photo's description and the pets, kept on the draft, shown and
set from the CLI, and posted as instagrapi's custom accessibility caption and the dry-run record's alt_text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from bot.captions.alttext import MAX_WORDS, clean_alt_text, draft_alt_text, write_alt_text
from bot.cli import cli
from bot.drafts.media import first_photo, update_medium
from bot.errors import PawpostError
from tests.bot.publish.conftest import make_draft
from tests.bot.publish.publishers.instagrapi.test_publisher import SLOT, poster, tick


def test_alt_text_is_plain_and_factual():
    assert write_alt_text([("Lola", "dog")], "a small dog on a red blanket") == \
        "Photo of Lola (a dog). A small dog on a red blanket."
    assert write_alt_text([("Lola", "dog"), ("Max", "cat"), ("Pip", "")], None) == \
        "Photo of Lola (a dog), Max (a cat) and Pip."
    assert write_alt_text([], "a dog #cute @lola https://x.y/z on grass") == "A dog on grass."
    assert write_alt_text([], None) == ""
    long = write_alt_text([("Lola", "dog")], " ".join(["word"] * 300))
    assert len(long.split()) == MAX_WORDS
    with pytest.raises(PawpostError, match="keep it to 100"):
        clean_alt_text(" ".join(["w"] * 101))


def _pet(store: Any, photo_id: int, name: str, species: str = "dog") -> None:
    pet_id = store.value("SELECT id FROM pets WHERE name = ?", (name,)) or store.insert(
        "pets", name=name, species=species, created_at="2026-11-20T00:00:00+00:00")
    store.insert("photo_pets", photo_id=photo_id, pet_id=pet_id, confidence=0.9, source="model")


def test_a_draft_keeps_the_owners_alt_text_and_writes_one_otherwise(ig_config, ig_store):
    draft_id = make_draft(ig_store, "Hello #dog")
    photo_id = first_photo(ig_store, draft_id)
    _pet(ig_store, photo_id, "Lola")
    update_medium(ig_store, draft_id, description="a dog asleep on a sofa")

    assert draft_alt_text(ig_store, draft_id) == "Photo of Lola (a dog). A dog asleep on a sofa."
    # A pet correction shows at once: the written text is never stored, only the owner's.
    _pet(ig_store, photo_id, "Max", "cat")
    assert "Max (a cat)" in draft_alt_text(ig_store, draft_id)

    runner = CliRunner()
    args = ["--config", str(ig_config.source), "drafts"]
    result = runner.invoke(cli, [*args, "approve", str(draft_id), "--alt", "  Lola asleep,\n on the sofa  "])
    assert result.exit_code == 0, result.output
    shown = json.loads(runner.invoke(cli, [*args, "show", str(draft_id), "--json"]).output)
    assert shown["alt_text"] == "Lola asleep, on the sofa"
    assert "alt text: Lola asleep, on the sofa" in runner.invoke(cli, [*args, "show", str(draft_id)]).output
    refused = runner.invoke(cli, [*args, "approve", str(draft_id), "--alt", " ".join(["w"] * 120)])
    assert refused.exit_code == 1 and "keep it to 100" in str(refused.exception)


def test_instagrapi_posts_the_alt_text_as_the_custom_accessibility_caption(ig_config, ig_store, fake, logged_in,
                                                                         monkeypatch):
    seen: list[dict[str, Any]] = []
    configure = fake._configure
    monkeypatch.setattr(fake, "_configure", lambda data: seen.append(data) or configure(data))
    draft_id = make_draft(ig_store, "Accessible #dog")
    update_medium(ig_store, draft_id, alt_text="Lola, a small fawn dog, asleep on a red blanket.")

    assert tick(poster(ig_config, ig_store), fake, SLOT).status == "posted"

    assert seen[0]["custom_accessibility_caption"] == "Lola, a small fawn dog, asleep on a red blanket."


def test_the_dry_run_record_keeps_the_alt_text(config, store):
    from bot.publish.poster import Poster
    from bot.publish.publishers.dryrun import DryRunPublisher

    draft_id = make_draft(store, "Dry #dog")
    update_medium(store, draft_id, description="a dog in the snow")
    result = Poster(store, config, DryRunPublisher(config.paths.outbox)).post_now(draft_id)

    assert result.status == "posted"
    (record,) = [json.loads(p.read_text()) for p in config.paths.outbox.glob("*.json")]
    assert record["alt_text"] == "A dog in the snow."
