"""The posted copy made when the draft is created and cached: the same bytes publishing makes, made again only
when what it depends on (the file, the pets' boxes) changes."""

from __future__ import annotations

from bot.drafts.media import first_photo
from bot.publish.prepare import pet_boxes, prepare_photo, prepare_waiting, prepared_copy
from tests.bot.publish.conftest import make_draft


def test_the_cached_copy_is_what_publishing_makes_and_is_made_once(store, tmp_path):
    draft_id = make_draft(store, status="pending", size=(900, 1600), boxes=[[300, 1250, 600, 1550]])
    photo_id = first_photo(store, draft_id)

    first = prepared_copy(store, photo_id)
    made_at = first.stat().st_mtime_ns
    again = prepared_copy(store, photo_id)

    fresh = prepare_photo(store.abspath(store.photo(photo_id)["path"]), tmp_path / "fresh.jpg",
                          pet_boxes(store, photo_id))
    assert again == first and first.stat().st_mtime_ns == made_at
    assert first.read_bytes() == fresh.path.read_bytes()


def gradient(size: tuple[int, int]) -> bytes:
    import io

    from PIL import Image

    im = Image.linear_gradient("L").resize(size).convert("RGB")
    buf = io.BytesIO()
    im.save(buf, "JPEG")
    return buf.getvalue()


def test_a_pet_correction_makes_the_copy_again_and_drops_the_old_one(store):
    draft_id = make_draft(store, status="pending", size=(900, 1600), boxes=[[300, 1250, 600, 1550]],
                          data=gradient((900, 1600)))
    photo_id = first_photo(store, draft_id)
    old = prepared_copy(store, photo_id)
    old_bytes = old.read_bytes()
    pet = store.insert("pets", name="Lola", species="dog", created_at="2026-11-20T00:00:00+00:00")

    store.db.execute("INSERT INTO photo_pets (photo_id, pet_id, confidence, box, source) VALUES (?, ?, 1, ?, 'owner')",
                     (photo_id, pet, "[0, 0, 200, 200]"))
    new = prepared_copy(store, photo_id)

    assert new != old and not old.exists()
    assert new.read_bytes() != old_bytes  # framed on the corrected pet, top of the photo


def test_prepare_waiting_makes_copies_for_pending_and_approved_drafts_only(store):
    pending = make_draft(store, caption="a", status="pending")
    approved = make_draft(store, caption="b", status="approved")
    rejected = make_draft(store, caption="c", status="pending")
    store.set_draft_status(rejected, "rejected")

    assert prepare_waiting(store) == 2
    assert prepare_waiting(store) == 0
    folder = store.data_dir / "prepared" / "cache"
    photos = {int(p.name.split("-")[0]) for p in folder.glob("*.jpg")}
    assert photos == {first_photo(store, pending), first_photo(store, approved)}


def test_an_unreadable_photo_is_left_to_publishing_to_report(store):
    draft_id = make_draft(store, status="pending", data=b"not a jpeg at all")

    assert prepare_waiting(store) == 0
    assert store.draft(draft_id)["status"] == "pending"


def test_publishing_posts_the_cached_copy_the_owner_reviewed(config, store):
    """The bytes posted are the cached file's, not a copy made again at the slot."""
    import json

    from bot.publish.poster import Poster
    from bot.publish.publishers.dryrun import DryRunPublisher
    from tests.bot.publish.conftest import jpeg

    draft_id = make_draft(store, "Reviewed #dog", size=(900, 1600), boxes=[[300, 1250, 600, 1550]])
    cached = prepared_copy(store, first_photo(store, draft_id))
    # What the page showed the owner; made different here so a fresh crop at the slot could not match it by chance.
    cached.write_bytes(jpeg((1080, 1350), colour=(10, 200, 30)))
    reviewed = cached.read_bytes()

    result = Poster(store, config, DryRunPublisher(config.paths.outbox)).post_now(draft_id)

    assert result.status == "posted"
    (record,) = [json.loads(p.read_text()) for p in config.paths.outbox.glob("*.json")]
    assert (config.paths.outbox / record["image"]).read_bytes() == reviewed
    assert cached.read_bytes() == reviewed  # the cache is left as it was
    assert not list((store.data_dir / "prepared").glob("*.jpg"))  # the attempt's own name is removed


def test_the_cached_copy_is_found_only_while_it_is_current(store):
    """What `drafts show` shows without --preview: the copy if made and still current, never a stale one."""
    from bot.publish.prepare import cached_copy

    draft_id = make_draft(store, status="pending", size=(900, 1600), boxes=[[300, 1250, 600, 1550]])
    photo_id = first_photo(store, draft_id)
    assert cached_copy(store, photo_id) is None  # looking never makes it
    made = prepared_copy(store, photo_id)
    assert cached_copy(store, photo_id) == made
    pet = store.insert("pets", name="Pico", species="dog", created_at="2026-11-20T00:00:00+00:00")
    store.db.execute("INSERT INTO photo_pets (photo_id, pet_id, confidence, box, source) VALUES (?, ?, 1, ?, 'owner')",
                     (photo_id, pet, "[0, 0, 200, 200]"))
    assert cached_copy(store, photo_id) is None  # the boxes changed: the old copy is not what would be posted
