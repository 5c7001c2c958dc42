"""bot/drafts/media.py: a draft's photos in order, each photo in one draft at most, the first one as the draft's
photo, and the draft JSON's `media`; the poster's side (bot.publish.prepare.stage_post) posts them in that order."""

from __future__ import annotations

import io
from typing import Any

import pytest

from bot.drafts.actions import approve, get_draft, list_drafts
from bot.drafts.media import (
    MAX_MEDIA,
    add_draft,
    draft_of_photo,
    first_photo,
    first_photos,
    media_of,
    media_of_drafts,
    update_medium,
)
from bot.errors import NotFound, PawpostError

NOW = "2026-11-27T08:00:00+00:00"


def photo(store: Any, name: str, pet: str | None = None, *, size: tuple[int, int] = (400, 500)) -> int:
    from PIL import Image

    path = store.data_dir / "library" / f"{name}.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.new("RGB", size, (120, 90, 60)).save(buf, "JPEG")
    path.write_bytes(buf.getvalue())
    photo_id = store.insert("photos", sha256=f"sha-{name}", status="drafted", source_name=f"{name}.HEIC",
                            path=f"library/{name}.jpg", created_at=NOW, updated_at=NOW)
    if pet:
        pet_id = store.value("SELECT id FROM pets WHERE name = ?", (pet,)) or store.insert(
            "pets", name=pet, species="dog", created_at=NOW)
        store.insert("photo_pets", photo_id=photo_id, pet_id=pet_id, confidence=0.9, source="model")
    return photo_id


def draft(store: Any, photos: list[int], **fields: Any) -> int:
    return add_draft(store, photos, status=fields.pop("status", "pending"), caption="Two of us #dog",
                     created_at=NOW, updated_at=NOW, **fields)


def test_a_draft_keeps_its_photos_in_the_order_given(store) -> None:
    ids = [photo(store, "b"), photo(store, "a"), photo(store, "c")]
    draft_id = draft(store, ids, description="a dog on a sofa")

    media = media_of(store, draft_id)
    assert [m.photo_id for m in media] == ids and [m.position for m in media] == [0, 1, 2]
    assert [m.source_name for m in media] == ["b.HEIC", "a.HEIC", "c.HEIC"]
    assert media[0].description == "a dog on a sofa" and media[1].description is None  # the first medium's
    assert first_photo(store, draft_id) == ids[0]
    assert first_photos(store, [draft_id]) == {draft_id: ids[0]}
    assert [draft_of_photo(store, i) for i in ids] == [draft_id] * 3
    assert media_of_drafts(store, []) == {}


def test_a_photo_is_in_one_draft_at_most_and_a_post_holds_one_to_ten(store) -> None:
    shared = photo(store, "shared")
    first = draft(store, [shared])
    other = photo(store, "other")
    with pytest.raises(PawpostError, match=f"photo {shared} is already in draft {first}"):
        draft(store, [other, shared])
    assert draft_of_photo(store, other) is None  # nothing of the refused draft was written
    assert store.value("SELECT count(*) FROM drafts") == 1
    with pytest.raises(PawpostError, match="1 to 10 photos, not 0"):
        draft(store, [])
    many = [photo(store, f"p{n}") for n in range(MAX_MEDIA + 1)]
    with pytest.raises(PawpostError, match="1 to 10 photos, not 11"):
        draft(store, many)
    assert len(media_of(store, draft(store, many[:MAX_MEDIA]))) == MAX_MEDIA
    with pytest.raises(NotFound, match="there is no draft 99"):
        media_of(store, 99)


def test_each_medium_has_its_own_alt_text_and_crop(store) -> None:
    draft_id = draft(store, [photo(store, "one", "Lola"), photo(store, "two", "Max")],
                     description="a small dog asleep")
    update_medium(store, draft_id, 1, alt_text="Max, a grey cat, on the windowsill.", crop=[0, 10, 400, 410])
    with pytest.raises(NotFound, match="has no medium 3"):
        update_medium(store, draft_id, 2, alt_text="x")
    with pytest.raises(ValueError, match="caption"):
        update_medium(store, draft_id, 0, caption="x")

    view = get_draft(store, draft_id)
    assert view.photo_id == first_photo(store, draft_id) and view.pets == ["Lola", "Max"]  # every pet of the post
    assert [m["alt_text"] for m in view.media] == ["Photo of Lola (a dog). A small dog asleep.",
                                                  "Max, a grey cat, on the windowsill."]
    assert view.alt_text == view.media[0]["alt_text"]
    assert [m["kind"] for m in view.media] == ["photo", "photo"]
    assert [m["file_name"] for m in view.media] == ["one.HEIC", "two.HEIC"]
    assert view.media[0]["path"] == view.photo == str(store.data_dir / "library" / "one.jpg")
    assert media_of(store, draft_id)[1].crop == (0.0, 10.0, 400.0, 410.0)
    # Listings carry the owner's alt text only (null: written when posted), cheaply.
    (listed,) = list_drafts(store)
    assert [m["alt_text"] for m in listed.media] == [None, "Max, a grey cat, on the windowsill."]


def test_the_owners_alt_text_goes_to_the_first_photo(store, config) -> None:
    draft_id = draft(store, [photo(store, "one", "Lola"), photo(store, "two")])
    approve(store, config, draft_id, alt_text="  Lola   in the snow. ")
    assert [m.alt_text for m in media_of(store, draft_id)] == ["Lola in the snow.", None]


def test_the_poster_stages_every_medium_in_order_with_its_alt_text(store) -> None:
    from bot.publish.prepare import stage_post, staged_files

    ids = [photo(store, "wide", "Lola", size=(800, 400)), photo(store, "tall", "Max", size=(400, 500))]
    draft_id = draft(store, ids, status="approved")
    folder = store.data_dir / "prepared"

    post = stage_post(store, draft_id, "Two of us #dog", "f" * 32, ["first alt", "second alt"], folder)

    assert post.draft_id == draft_id and post.caption == "Two of us #dog" and post.is_carousel
    assert [m.alt_text for m in post.media] == ["first alt", "second alt"]
    # One ratio for the whole carousel: square loses as much as 4:5 would, and is nearer the wide cover's shape.
    assert [(m.width, m.height) for m in post.media] == [(400, 400), (400, 400)]
    assert [m.path for m in post.media] == staged_files(folder, draft_id, "f" * 32)
    assert post.first.path.name == f"{draft_id}-ffffffff.jpg"
    assert post.pets == ("Lola", "Max")
    with pytest.raises(ValueError):  # alt texts must match the media one for one
        stage_post(store, draft_id, "x", "e" * 32, ["only one"], folder)
    assert staged_files(folder, draft_id, "e" * 32) == []  # a failed staging leaves nothing behind
