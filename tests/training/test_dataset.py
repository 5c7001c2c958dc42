"""The retraining dataset: captions as posted, cleaned, de-duplicated, and split by time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import PawpostError
from tests.rows import START, add_posted, make_photo, tag_pet
from training.dataset import Example, build, clean_caption, collect, split


@pytest.mark.parametrize(("raw", "text", "tags", "mentions"), [
    ("Nap time 💤\n.\n.\n.\n#chihuahua #dogsofinstagram #sleepy", "Nap time 💤",
     ["#chihuahua", "#dogsofinstagram", "#sleepy"], []),
    ("Thanks @auntie_rosa for the treats! #spoiled", "Thanks for the treats!", ["#spoiled"], ["@auntie_rosa"]),
    ("Loving #sundays with mom", "Loving sundays with mom", ["#sundays"], []),
    ("New bed! https://shop.example.com/bed?x=1 see www.example.org", "New bed! see", [], []),
    ("#dog #cute #chihuahua", "", ["#dog", "#cute", "#chihuahua"], []),
    ("Walk #1 #2 done", "Walk done", ["#1", "#2"], []),
])
def test_clean_caption(raw, text, tags, mentions):
    cleaned = clean_caption(raw)
    assert cleaned.text == text
    assert cleaned.hashtags == tags
    assert cleaned.mentions == mentions


def test_collect_uses_the_caption_as_posted_and_drops_empty_and_duplicates(store):
    add_posted(store, "First walk of the year 🐾 #chihuahua", START, "Lola")
    # The owner's edit is what was posted; the model's own text is not the target.
    edited = add_posted(store, "Lola, queen of the sofa 👑", START + timedelta(days=1), "Lola", edited=True,
                        generated="A dog on a sofa.")
    add_posted(store, "#chihuahua #dog", START + timedelta(days=2), "Lola")  # nothing but hashtags
    add_posted(store, "first walk of the  year 🐾", START + timedelta(days=3), "Pico")  # repeat, other case/spaces
    add_posted(store, "Pico met the rain today", START + timedelta(days=4), "Pico")
    photo = make_photo(store, "old", 99, origin="imported")
    tag_pet(store, photo, "Pico")
    store.insert("imported_posts", media_id="555", media_code="OLD1", taken_at=(START - timedelta(days=30)).isoformat(),
                 caption="Throwback to puppy Pico @breeder #tbt", photo_id=photo, imported_at=START.isoformat())
    # pawpost's own post imported again by a history import: counted once, from the draft.
    store.insert("imported_posts", media_id="m1", media_code="C1", taken_at=START.isoformat(),
                 caption="First walk of the year 🐾 #chihuahua", photo_id=None, imported_at=START.isoformat())

    examples, dropped = collect(store)

    assert [e.caption for e in examples] == ["Throwback to puppy Pico", "First walk of the year 🐾",
                                             "Lola, queen of the sofa 👑", "Pico met the rain today"]
    assert dropped == {"empty": 1, "duplicate": 1, "no_photo": 0}
    first_imported = examples[0]
    assert (first_imported.source, first_imported.pets, first_imported.mentions) == ("imported", ["Pico"],
                                                                                    ["@breeder"])
    by_key = {e.key: e for e in examples}
    assert by_key[f"draft:{edited}"].edited
    assert all(e.photo is not None and e.photo.is_file() for e in examples)


def test_collect_leaves_out_posts_without_their_photo_when_asked(store):
    add_posted(store, "Here I am", START, "Lola")
    store.insert("imported_posts", media_id="9", media_code="X", taken_at=START.isoformat(), caption="No photo",
                 photo_id=None, imported_at=START.isoformat())
    examples, dropped = collect(store, need_photo=True)
    assert [e.caption for e in examples] == ["Here I am"]
    assert dropped["no_photo"] == 1


def _ex(i: int) -> Example:
    return Example(key=f"draft:{i}", source="posted", at=(START + timedelta(days=i)).isoformat(), caption=f"c{i}",
                   photo=None, photo_id=None)


def test_split_holds_out_the_newest_posts():
    examples = [_ex(i) for i in (5, 1, 9, 3, 7, 0, 2, 8, 6, 4)]
    train, holdout = split(examples, 0.25)
    assert [e.key for e in holdout] == ["draft:7", "draft:8", "draft:9"]  # ceil(10 * 0.25) = 3, newest
    assert [e.key for e in train] == [f"draft:{i}" for i in range(7)]
    # Always at least one on each side.
    assert [len(part) for part in split([_ex(1), _ex(2)], 0.01)] == [1, 1]
    assert [len(part) for part in split([_ex(1), _ex(2)], 0.99)] == [1, 1]
    with pytest.raises(PawpostError, match="at least 2"):
        split([_ex(1)], 0.2)


def test_build_counts(store, config):
    for i in range(6):
        add_posted(store, f"Post number {i} from Lola", START + timedelta(days=i), "Lola", edited=i == 0)
    data = build(store, config)
    # 15 % of 6 is one post; a third (2) goes toward retrain.min_holdout_posts (8), so the judge sees more.
    assert data.counts() == {"train": 4, "holdout": 2, "posted": 6, "imported": 0, "edited": 1,
                             "dropped_empty": 0, "dropped_duplicate": 0, "dropped_no_photo": 0}


def test_split_holds_out_at_least_min_holdout_while_two_thirds_train():
    examples = [Example(key=f"k{i}", source="posted", at=f"2026-01-{i + 1:02d}", caption=f"c{i}", photo=None,
                        photo_id=None) for i in range(30)]
    assert [len(x) for x in split(examples, 0.15)] == [25, 5]
    assert [len(x) for x in split(examples, 0.15, min_holdout=8)] == [22, 8]
    assert [len(x) for x in split(examples[:12], 0.15, min_holdout=8)] == [8, 4]  # two thirds still train
    assert [len(x) for x in split(examples, 0.5, min_holdout=8)] == [15, 15]
