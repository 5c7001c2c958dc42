"""bot/drafts/actions.py through the CLI: --at conflicts, the real posting time, the owner's captions (hashtag rule,
control characters, the editor), and notes that no longer apply."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from bot.config import load_config
from bot.drafts import media
from bot.drafts.media import first_photo
from bot.store.database import Store
from tests.conftest import run_cli, write_config

NOW = "2026-11-27T08:00:00+00:00"
SCHEDULE = {"timezone": "UTC", "slots": ["09:30", "19:00"], "jitter_minutes": 0, "max_posts_per_day": 2}
ENV = {"PAWPOST_FAKE_NOW": NOW}


@pytest.fixture
def home_sections() -> dict[str, dict[str, object]]:
    """tests/conftest.py's `home`, `config` and `store`, with this schedule."""
    return {"schedule": SCHEDULE}


def add_draft(store: Store, status: str = "pending", *, caption: str | None = "Lola on the sofa",
              scheduled_for: str | None = None, pets: tuple[str, ...] = ("Lola",), **fields: object) -> int:
    n = (store.value("SELECT count(*) FROM photos") or 0) + 1
    photo = store.insert("photos", sha256=f"sha{n}", status="drafted", source_name=f"p{n}.jpg",
                         path=f"library/p{n}.jpg", created_at=NOW, updated_at=NOW)
    for name in pets:
        pet = store.value("SELECT id FROM pets WHERE name = ?", (name,)) or store.insert(
            "pets", name=name, species="dog", created_at=NOW)
        store.insert("photo_pets", photo_id=photo, pet_id=pet, confidence=0.9, source="model")
    return media.add_draft(store, [photo], status=status, caption=caption, scheduled_for=scheduled_for,
                           approved_at=NOW if status == "approved" else None, created_at=NOW, updated_at=NOW, **fields)


def cli(home: Path, *args: str, **env: str):
    return run_cli(*args, config=home / "pawpost.toml", env={**ENV, **env})


# -- 9: drafts approved for the same time ------------------------------------------------------------

def test_a_second_draft_for_the_same_time_is_refused_and_approval_says_when(home: Path, store: Store) -> None:
    first, second, third = (add_draft(store) for _ in range(3))
    ok = cli(home, "drafts", "approve", str(first), "--at", "2026-11-27 14:25")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"draft {first} approved; it goes out at 2026-11-27 14:25 (UTC)"
    clash = cli(home, "drafts", "approve", str(second), "--at", "2026-11-27 14:25")
    assert clash.returncode == 1 and clash.stderr.count("\n") == 1
    assert f"draft {first} is already approved for 2026-11-27 14:25 (UTC)" in clash.stderr
    assert store.draft(second)["status"] == "pending"
    # Without --at: the real time, not "the next free slot".
    queued = cli(home, "drafts", "approve", str(third))
    assert queued.stdout.strip() == f"draft {third} approved; it goes out at 2026-11-27 09:30 (UTC)"
    shown = cli(home, "drafts", "show", str(first))
    assert "goes out: at 2026-11-27 14:25 (UTC)" in shown.stdout
    assert json.loads(cli(home, "drafts", "show", str(third), "--json").stdout)["goes_out_at"] == \
        "2026-11-27T09:30:00+00:00"


def test_a_day_already_at_the_daily_cap_is_refused(home: Path, store: Store) -> None:
    for _ in range(2):
        add_draft(store, "posted", posted_at="2026-11-27T07:00:00+00:00")
    draft = add_draft(store)
    r = cli(home, "drafts", "approve", str(draft), "--at", "2026-11-27 14:25")
    assert r.returncode == 1 and "2026-11-27 already has 2 post(s) (schedule.max_posts_per_day)" in r.stderr
    assert cli(home, "drafts", "approve", str(draft), "--at", "2026-11-28 14:25").returncode == 0


def test_drafts_that_lost_their_time_show_when_they_really_go_out(home: Path, store: Store) -> None:
    # Two drafts approved for one time before this was refused: one gets 14:25, the other the next free slot.
    a = add_draft(store, "approved", scheduled_for="2026-11-27T14:25:00+00:00")
    b = add_draft(store, "approved", scheduled_for="2026-11-27T14:25:00+00:00")
    slots = json.loads(cli(home, "schedule", "--json", "--count", "4").stdout)["slots"]
    placed = {s["draft_id"]: s["fire_at"] for s in slots if s["draft_id"]}
    assert sorted(placed) == [a, b]
    winner, loser = (a, b) if placed[a] == "2026-11-27T14:25:00+00:00" else (b, a)
    assert placed[loser] == "2026-11-27T19:00:00+00:00"
    doc = json.loads(cli(home, "drafts", "show", str(loser), "--json").stdout)
    assert doc["goes_out_at"] == "2026-11-27T19:00:00+00:00"
    shown = cli(home, "drafts", "show", str(loser)).stdout
    assert "goes out: at 2026-11-27 19:00 (UTC), not at the time asked for" in shown
    assert f"draft {winner} is already approved for 2026-11-27 14:25" in shown


def test_an_at_time_skipped_by_the_daily_cap_is_shown_at_the_slot_that_takes_it(home: Path, store: Store) -> None:
    queue = [add_draft(store, "approved") for _ in range(2)]  # they fill today's 09:30 and 19:00
    late = add_draft(store)
    r = cli(home, "drafts", "approve", str(late), "--at", "2026-11-27 20:00")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"draft {late} approved; it goes out at 2026-11-28 09:30 (UTC), not at the time "
                               "asked for: 2026-11-27 reaches schedule.max_posts_per_day (2)")
    slots = json.loads(cli(home, "schedule", "--json", "--count", "4").stdout)["slots"]
    assert [s["draft_id"] for s in slots] == [*queue, None, late]


# -- 12: dead ends --------------------------------------------------------------------------------------

def test_the_owners_caption_clears_the_no_caption_note(home: Path, store: Store) -> None:
    draft = add_draft(store, caption=None, note="No caption passed the rules after 3 round(s) of 4 candidates.")
    r = cli(home, "drafts", "approve", str(draft), "--caption", "Lola, queen of the sofa")
    assert r.returncode == 0, r.stderr
    assert store.draft(draft)["note"] is None
    assert "No caption passed" not in cli(home, "drafts", "show", str(draft)).stdout


@pytest.mark.parametrize("bad", ["Lola\x07 barks", "Lola\x1b[31m red", "Lola\x7f", "Lola\u0085 here",
                                 "tab\there"])
def test_control_characters_are_refused_in_the_owners_caption(home: Path, store: Store, bad: str) -> None:
    draft = add_draft(store)
    r = cli(home, "drafts", "approve", str(draft), "--caption", bad)
    assert r.returncode == 1 and "control character" in r.stderr and r.stderr.count("\n") == 1
    assert store.draft(draft)["status"] == "pending"


def editor_script(folder: Path, *answers: str) -> Path:
    """An $EDITOR that answers with answers[0], then answers[1], ... and keeps what it was shown each time."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(answers):
        (folder / f"answer{i}").write_text(text)
    script = folder / "editor.sh"
    script.write_text(f'#!/bin/sh\nn=$(ls "{folder}" | grep -c "^seen")\ncp "$1" "{folder}/seen$n"\n'
                      f'cat "{folder}/answer$n" > "$1"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_edit_over_the_limit_reopens_the_editor_with_the_error_on_top(home: Path, store: Store,
                                                                      tmp_path: Path) -> None:
    draft = add_draft(store, "approved")
    long = "Lola " + "naps " * 460  # 2,304 characters once trimmed
    fixed = long[:100].strip() + " #sofa"
    editor = editor_script(tmp_path / "ed", long, "# pawpost: anything\n" + fixed)
    r = cli(home, "drafts", "edit", str(draft), EDITOR=str(editor))
    assert r.returncode == 0, r.stderr
    second = (tmp_path / "ed" / "seen1").read_text()
    assert second.startswith("# pawpost: the caption has 2304 characters; Instagram allows at most 2200")
    assert long.strip() in second  # the owner's edit, not the old caption
    assert store.draft(draft)["caption"] == fixed  # pawpost's lines are removed


@pytest.mark.parametrize("second", ["touch \"$1\"", "true"], ids=["saved-as-shown", "closed-without-saving"])
def test_edit_left_over_the_limit_changes_nothing(home: Path, store: Store, tmp_path: Path, second: str) -> None:
    draft = add_draft(store, "approved")
    long = "Lola " + "naps " * 460
    editor = tmp_path / "always.sh"
    # The first time it writes a caption over the limit; shown it again with the error, it saves it unchanged or
    # closes without saving.
    editor.write_text(f'#!/bin/sh\nif grep -q "^# pawpost" "$1"; then sleep 1.1; {second}\n'
                      f'else printf "{long}" > "$1"; fi\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    r = cli(home, "drafts", "edit", str(draft), EDITOR=str(editor))
    assert r.returncode == 1 and "2304 characters" in r.stderr and "nothing was changed" in r.stderr
    assert store.draft(draft)["caption"] == "Lola on the sofa"


# -- 13: one hashtag rule ---------------------------------------------------------------------------------

def test_one_hashtag_rule_for_the_owners_captions(home: Path, store: Store) -> None:
    # The example config: Lola's #lolathechihuahua, the account's #chihuahua #rescuedog, max_hashtags = 5.
    plain = add_draft(store)
    r = cli(home, "drafts", "approve", str(plain), "--caption", "Lola owns the sofa")
    assert r.returncode == 0, r.stderr
    assert store.draft(plain)["caption"] == "Lola owns the sofa\n\n#lolathechihuahua #chihuahua #rescuedog"
    # The owner's own tags stay; the configured ones fill the room left up to max_hashtags, without repeats.
    own = add_draft(store)
    cli(home, "drafts", "approve", str(own), "--caption", "Lola!\n#sofa #Chihuahua #nap #blanket")
    assert store.draft(own)["caption"] == "Lola!\n#sofa #Chihuahua #nap #blanket #lolathechihuahua"
    # max_hashtags caps the owner's captions as it caps generated ones: one limit, said in one line.
    six = add_draft(store)
    r = cli(home, "drafts", "approve", str(six), "--caption", "Lola " + " ".join(f"#t{i}" for i in range(6)))
    assert r.returncode == 1 and "6 hashtags; at most 5 are allowed (captions.max_hashtags" in r.stderr
    assert store.draft(six)["status"] == "pending"


def test_a_lower_max_hashtags_leaves_the_owner_less_room(tmp_path: Path) -> None:
    path = write_config(tmp_path / "p", {"schedule": SCHEDULE, "captions": {"max_hashtags": 3}})
    with Store.for_config(load_config(path)) as store:
        draft, refused = add_draft(store, pets=()), add_draft(store, pets=())
    tags = " ".join(f"#t{i}" for i in range(2))
    assert cli(path.parent, "drafts", "approve", str(draft), "--caption", f"Lola {tags}").returncode == 0
    r = cli(path.parent, "drafts", "approve", str(refused), "--caption", "Lola #a #b #c #d")
    assert r.returncode == 1 and "4 hashtags; at most 3 are allowed (captions.max_hashtags" in r.stderr
    with Store.for_config(load_config(path)) as store:
        # Room for one more: the first of the account's hashtags.
        assert store.draft(draft)["caption"] == f"Lola {tags}\n\n#chihuahua"


# -- the JSON document SQLite builds is the DraftView --------------------------------------------------------


def test_the_drafts_json_built_in_sql_has_exactly_the_keys_of_draftview(store: Store) -> None:
    import dataclasses
    import typing

    from bot.drafts.actions import DraftView, get_draft, list_drafts, list_json

    fields = {f.name: f for f in dataclasses.fields(DraftView)}
    hints = typing.get_type_hints(DraftView)
    # Every column the document reads, set; and a draft with what may be NULL left NULL.
    full = add_draft(store, "posted", scheduled_for=NOW, confidence=0.75, edited=1, note="n", hint="h",
                     posted_at=NOW, media_code="C1", media_url="https://instagram.com/p/C1", error="e",
                     reject_reason="r")
    # publish_state belongs to a publishing draft; set here only so that every column is read once.
    store.update("drafts", full, approved_at=NOW, publish_state="unknown")
    # A Reel, so that a video's length and cover are read too.
    store.update("photos", first_photo(store, full), kind="video", duration_s=3.5, cover_at=1.25)
    store.insert("candidates", draft_id=full, position=0, text="kept", passed=1)
    store.insert("candidates", draft_id=full, position=1, text="refused", passed=0, reason="too long")
    bare = add_draft(store, caption=None, pets=())
    store.update("photos", first_photo(store, bare), path=None)

    documents = {item["id"]: item for item in json.loads(list_json(store))}
    # alt_text is not SQL's: get_draft writes it from the photo (bot.captions.alttext) when it is shown; version is
    # a fingerprint of the document, made in Python.
    for document in documents.values():
        assert set(document) == set(fields) - {"alt_text", "version"}
    for name, value in documents[full].items():
        assert value is not None, name
        assert _is_a(value, hints[name]), (name, value, hints[name])
    assert documents[full]["edited"] is True and documents[bare]["edited"] is False
    assert documents[full]["candidates"] == ["kept"]
    assert documents[full]["rejected_candidates"] == [{"text": "refused", "reason": "too long"}]
    assert documents[bare]["photo"] is None and documents[bare]["pets"] == [] and documents[bare]["candidates"] == []
    listed = list_drafts(store)
    assert [{k: x for k, x in v.to_json().items() if k != "version"} for v in listed] == [
        {**documents[i], "alt_text": None} for i in (bare, full)]
    assert set(get_draft(store, full).to_json()) == set(fields)
    # A page built from the list and an editor opened on the draft see the same version.
    assert [v.version for v in listed] == [get_draft(store, i).version for i in (bare, full)]
    assert all(len(v.version) == 16 for v in listed)


def _is_a(value: object, hint: object) -> bool:
    """Whether a JSON value fits a DraftView annotation (int, float, str, bool, list[...] and their Optionals)."""
    import types
    import typing

    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    kinds = tuple(typing.get_origin(o) or o for o in options if o is not type(None))
    if bool in kinds:
        return isinstance(value, bool)
    if float in kinds:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, kinds) and not isinstance(value, bool)
