"""`pawpost drafts media ID list|add|remove|move|split` and the preview of every photo in `drafts show` and
`drafts review`: places are 1-based, bad input is one line and exit 1 with nothing changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bot.drafts.media import media_of, update_medium
from tests.bot.drafts.test_media import draft, photo
from tests.conftest import run_cli


def cli(home: Path, *args: str, stdin: str | None = None) -> Any:
    from bot.cli import cli as main

    return CliRunner().invoke(main, ["--config", str(home / "pawpost.toml"), *args], input=stdin)


def order(store: Any, draft_id: int) -> list[int]:
    return [m.photo_id for m in media_of(store, draft_id)]


def carousel(store: Any) -> tuple[int, list[int]]:
    ids = [photo(store, "beach", "Lola"), photo(store, "sofa", "Lola"), photo(store, "park", "Bruno")]
    draft_id = draft(store, ids)
    update_medium(store, draft_id, 1, alt_text="Lola asleep on the sofa")
    return draft_id, ids


def test_list_shows_every_photo_in_order_with_its_alt_text(home: Path, store) -> None:
    draft_id, ids = carousel(store)

    shown = cli(home, "drafts", "media", str(draft_id), "list")
    listed = cli(home, "drafts", "media", str(draft_id), "list", "--json")

    assert shown.exit_code == 0, shown.output
    assert f"1. photo {ids[0]} (cover)  beach.HEIC  (Lola)" in shown.output
    assert f"2. photo {ids[1]}  sofa.HEIC  (Lola)" in shown.output and "alt: Lola asleep on the sofa" in shown.output
    doc = json.loads(listed.output)
    assert [(m["place"], m["photo_id"], m["file_name"], m["pets"]) for m in doc["media"]] == [
        (1, ids[0], "beach.HEIC", ["Lola"]), (2, ids[1], "sofa.HEIC", ["Lola"]), (3, ids[2], "park.HEIC", ["Bruno"])]
    assert doc["media"][1]["alt_text"] == "Lola asleep on the sofa" and doc["media"][0]["alt_text"]  # written
    assert doc["status"] == "pending" and doc["offered"] == []


def test_move_remove_add_and_the_hints_they_give(home: Path, store) -> None:
    draft_id, (beach, sofa, park) = carousel(store)

    moved = cli(home, "drafts", "media", str(draft_id), "move", str(park), "1")
    assert moved.exit_code == 0, moved.output
    assert moved.output == f"draft {draft_id}: photo {park} moved to place 1; photos now {park}, {beach}, {sofa}\n"
    assert order(store, draft_id) == [park, beach, sofa]

    removed = cli(home, "drafts", "media", str(draft_id), "remove", str(park))
    assert removed.exit_code == 0, removed.output
    assert "the caption may no longer fit (Bruno no longer shown)" in removed.output
    assert f"'pawpost drafts regenerate {draft_id}'" in removed.output
    assert "may no longer fit" in store.draft(draft_id)["note"]  # `drafts show` and the page say it too

    added = cli(home, "drafts", "media", str(draft_id), "add", str(park), "--at", "2")
    assert added.exit_code == 0, added.output
    assert order(store, draft_id) == [beach, park, sofa] and "Bruno now in the post" in added.output


def test_an_approved_post_goes_back_to_pending_and_says_so(home: Path, store) -> None:
    draft_id, (_, sofa, _) = carousel(store)
    assert cli(home, "drafts", "approve", str(draft_id)).exit_code == 0

    moved = cli(home, "drafts", "media", str(draft_id), "move", str(sofa), "1")

    assert moved.exit_code == 0, moved.output
    assert f"draft {draft_id} is pending again" in moved.output and f"drafts approve {draft_id}" in moved.output
    assert store.draft(draft_id)["status"] == "pending"


def test_bad_input_is_one_line_and_changes_nothing(home: Path, store) -> None:
    draft_id, ids = carousel(store)
    posted = draft(store, [photo(store, "gone")], status="posted")

    for args, said in [
        (["move", str(ids[0]), "4"], f"draft {draft_id} has 3 photo(s); pick a place from 1 to 3, not 4"),
        (["remove", "999"], f"photo 999 is not in draft {draft_id}"),
        (["add", str(ids[0])], f"photo {ids[0]} cannot be added: it is already in draft {draft_id}"),
        (["add", "4242"], "photo 4242 cannot be added: there is no such photo"),
    ]:
        result = cli(home, "drafts", "media", str(draft_id), *args)
        assert result.exit_code == 1 and said in str(result.exception), result.output
    refused = cli(home, "drafts", "media", str(posted), "remove", "1")
    assert "only the photos of pending or approved drafts can be changed" in str(refused.exception)
    missing = run_cli("drafts", "media", "77", "list", config=home / "pawpost.toml")
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "there is no draft 77" in missing.stderr
    assert cli(home, "drafts", "media", str(draft_id), "move", str(ids[0]), "0").exit_code == 2  # bad usage
    assert order(store, draft_id) == ids


def test_split_without_captions_makes_a_draft_waiting_for_them(home: Path, store) -> None:
    draft_id, (beach, sofa, park) = carousel(store)

    result = cli(home, "drafts", "media", str(draft_id), "split", str(park), "--no-caption")

    assert result.exit_code == 0, result.output
    new = store.value("SELECT draft_id FROM draft_media WHERE photo_id = ?", (park,))
    assert new != draft_id and order(store, draft_id) == [beach, sofa]
    assert f"photo {park} is now draft {new}" in result.output
    assert f"'pawpost drafts regenerate {new}' writes its candidates" in result.output
    shown = json.loads(cli(home, "drafts", "show", str(new), "--json").output)
    assert (shown["status"], shown["caption"], [m["photo_id"] for m in shown["media"]]) == ("pending", None, [park])


def test_show_and_review_show_every_photo_of_a_carousel(home: Path, store) -> None:
    draft_id, ids = carousel(store)

    shown = cli(home, "drafts", "show", str(draft_id), "--preview")
    reviewed = cli(home, "drafts", "review", stdin="s\n")

    assert shown.exit_code == 0, shown.output
    assert f"photos:  3, in order (change them: 'drafts media {draft_id} list')" in shown.output
    places = [shown.output.index(f"{n}. photo {i}") for n, i in enumerate(ids, 1)]
    assert places == sorted(places) and "alt: Lola asleep on the sofa" in shown.output
    drawn = [line for line in shown.output.splitlines() if "▀" in line]
    assert len(drawn) >= 3 * 8  # each photo drawn, not only the cover
    assert reviewed.exit_code == 0, reviewed.output
    assert "3 photos, in order" in reviewed.output and all(f"photo {i}" in reviewed.output for i in ids)


def test_list_offers_the_shoots_other_shots_and_add_takes_one(home: Path, store) -> None:
    from tests.bot.drafts.test_editing import analyzed, shoot_of

    lead = photo(store, "lead", "Lola")
    draft_id = draft(store, [lead])
    other = analyzed(store, "other", "Lola")
    shoot_of(store, {lead: 0.9, other: 0.5})

    listed = cli(home, "drafts", "media", str(draft_id), "list")
    doc = json.loads(cli(home, "drafts", "media", str(draft_id), "list", "--json").output)
    added = cli(home, "drafts", "media", str(draft_id), "add", str(other))
    shown = cli(home, "drafts", "show", str(draft_id))

    assert listed.exit_code == 0, listed.output
    assert "leads: sharpest of 2; Lola fills 40 %" in listed.output
    assert f"from the same shoot (add one with 'pawpost drafts media {draft_id} add PHOTO'):" in listed.output
    assert f"photo {other}  other.HEIC (Lola)" in listed.output
    assert [o["photo_id"] for o in doc["offered"]] == [other]
    assert added.exit_code == 0 and order(store, draft_id) == [lead, other]
    assert "leads: sharpest of 2" in shown.output and f"2. photo {other}" in shown.output
