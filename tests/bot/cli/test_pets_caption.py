"""`pawpost drafts pets ID NAME...` fixes the caption for the pets it sets, or offers new candidates; the page's
correction does the same."""

from __future__ import annotations

import json

from bot.drafts.media import first_photo
from bot.vision.pets import ensure_pets
from tests.bot.publish.conftest import make_draft
from tests.conftest import run_cli


def _draft_about_lola(store, config, caption: str, candidates: list[str]) -> int:
    ensure_pets(store, config)
    draft_id = make_draft(store, caption, status="pending")
    for position, text in enumerate(candidates):
        store.insert("candidates", draft_id=draft_id, position=position, text=text, passed=1)
    lola = store.value("SELECT id FROM pets WHERE name = 'Lola'")
    store.db.execute("INSERT INTO photo_pets (photo_id, pet_id, confidence, box, source) VALUES (?, ?, 0.62, '', "
                     "'model')", (first_photo(store, draft_id), lola))
    return draft_id


def test_correcting_the_pet_fixes_the_caption_and_candidates(home, store, config):
    caption = "Lola guards the blanket 🐶\n\n#lolathechihuahua #chihuahua"
    draft_id = _draft_about_lola(store, config, caption, [caption, "Lola, queen of naps #lolathechihuahua"])
    store.close()

    result = run_cli("drafts", "pets", str(draft_id), "Pico", config=home / "pawpost.toml")
    shown = json.loads(run_cli("drafts", "show", str(draft_id), "--json", config=home / "pawpost.toml").stdout)

    assert result.returncode == 0, result.stderr
    assert "pets set to Pico" in result.stdout and "caption fixed for the pets" in result.stdout
    assert shown["pets"] == ["Pico"]
    assert shown["caption"] == "Pico guards the blanket 🐶\n\n#picothechi #chihuahua"
    assert shown["candidates"] == [shown["caption"], "Pico, queen of naps #picothechi"]


def test_a_caption_that_cannot_simply_be_fixed_offers_a_regenerate(home, store, config):
    caption = "Lola and Pico, sofa patrol #lolathechihuahua"
    draft_id = _draft_about_lola(store, config, caption, [caption])
    pico = store.value("SELECT id FROM pets WHERE name = 'Pico'")
    store.db.execute("INSERT INTO photo_pets (photo_id, pet_id, confidence, box, source) VALUES (?, ?, 0.7, '', "
                     "'model')", (first_photo(store, draft_id), pico))
    store.close()

    result = run_cli("drafts", "pets", str(draft_id), "Pico", config=home / "pawpost.toml")
    shown = json.loads(run_cli("drafts", "show", str(draft_id), "--json", config=home / "pawpost.toml").stdout)

    assert result.returncode == 0, result.stderr
    assert "talks about Lola, who is not in the photo" in result.stdout
    assert f"run 'pawpost drafts regenerate {draft_id}' (or give --regenerate)" in result.stdout
    assert shown["caption"] == caption  # nothing guessed
    assert shown["note"] == ("The pets changed: the caption talks about Lola, who is not in the photo. "
                             "Regenerate the caption for them.")
