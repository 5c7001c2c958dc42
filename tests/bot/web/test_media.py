"""The review page's photo strip: every photo of a post in order, moved earlier or later, removed, split out (with
its captions written by the real tiny models), the cover with a count on the schedule and posted pages; each form
keeps the site's CSRF rule and works without JavaScript."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from bot.drafts.media import media_of
from bot.web.routes import create_app
from tests.bot.web.conftest import LOCAL, form_token, regenerated, set_pet
from tests.bot.web.conftest import add_draft as add_pending
from tests.tiny_captions import scripted_writer, tiny_blip  # noqa: F401


def carousel(store: Any, status: str = "pending", n: int = 3) -> tuple[int, list[int]]:
    """A draft of `n` photos (the first from the conftest helper, the rest added to it)."""
    from bot.drafts.editing import add_photo

    draft_id = add_pending(store, ["Three of us #dog"], status="pending", source_name="first.jpg")
    ids = [media_of(store, draft_id)[0].photo_id]
    for k in range(1, n):
        other = add_pending(store, [], source_name=f"more-{k}.jpg")
        photo_id = media_of(store, other)[0].photo_id
        store.db.execute("DELETE FROM drafts WHERE id = ?", (other,))  # its photo is free to join
        add_photo(store, draft_id, photo_id)
        ids.append(photo_id)
    if status != "pending":
        store.update("drafts", draft_id, status=status)
    return draft_id, ids


def strip(html: str, draft_id: int) -> list[int]:
    """The photo ids of a card's strip, in the order the page shows them."""
    return [int(i) for i in re.findall(rf'<li class="medium" id="photo-{draft_id}-(\d+)"', html)]


def test_the_card_shows_every_photo_in_order_with_working_buttons(client, web_store) -> None:
    draft_id, ids = carousel(web_store)

    html = client.get("/").text

    assert strip(html, draft_id) == ids
    for photo_id in ids:
        assert f'src="/drafts/{draft_id}/photos/{photo_id}/image?v=' in html
    assert "3 photos, swipe to see each" in html
    first = html[html.index(f'id="photo-{draft_id}-{ids[0]}"'):html.index(f'id="photo-{draft_id}-{ids[1]}"')]
    assert re.search(r'value="left"[^>]*disabled', first) and not re.search(r'value="right"[^>]*disabled', first)
    image = client.get(f"/drafts/{draft_id}/photos/{ids[2]}/image")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"


def test_a_photo_moves_earlier_and_the_page_comes_back_to_it(client, web_store) -> None:
    draft_id, (a, b, c) = carousel(web_store)

    moved = client.post(f"/drafts/{draft_id}/media", data={"csrf": form_token(client), "photo": str(c), "op": "left",
                                                          "next": "/"}, follow_redirects=False)

    assert moved.status_code == 303 and moved.headers["location"] == f"/#photo-{draft_id}-{c}"
    assert [m.photo_id for m in media_of(web_store, draft_id)] == [a, c, b]
    page = client.get("/")
    assert f"Draft {draft_id}: photo {c} moved to place 2" in page.text and strip(page.text, draft_id) == [a, c, b]


def test_removing_a_pets_only_photo_offers_to_regenerate(client, web_store) -> None:
    draft_id, (a, b, c) = carousel(web_store)
    set_pet(web_store, draft_id, "Lola", 0.9)  # on the cover only

    done = client.post(f"/drafts/{draft_id}/media", data={"csrf": form_token(client), "photo": str(a),
                                                          "op": "remove", "next": f"/drafts/{draft_id}"})

    assert "the caption may no longer fit (Lola no longer shown): regenerate it" in done.text  # the flash
    page = client.get(f"/drafts/{draft_id}")
    assert strip(page.text, draft_id) == [b, c]
    note = page.text[page.text.index('<div class="note">'):]
    assert "may no longer fit" in note[:note.index("</div>")] and "Regenerate</button>" in note[:note.index("</div>")]


def test_a_change_without_the_forms_token_changes_nothing(client, web_store) -> None:
    draft_id, ids = carousel(web_store)

    refused = client.post(f"/drafts/{draft_id}/media", data={"photo": str(ids[2]), "op": "left"})
    wrong = client.post(f"/drafts/{draft_id}/media", data={"csrf": form_token(client), "photo": str(ids[0]),
                                                          "op": "left"})

    assert refused.status_code == 403 and "nothing was changed" in refused.text
    assert wrong.status_code == 409 and "pick a place from 1 to 3, not 0" in wrong.text
    assert [m.photo_id for m in media_of(web_store, draft_id)] == ids


def test_the_image_route_serves_only_the_drafts_own_photos(client, web_store) -> None:
    draft_id, _ = carousel(web_store)
    other, theirs = carousel(web_store, n=1)

    answer = client.get(f"/drafts/{draft_id}/photos/{theirs[0]}/image")

    assert answer.status_code == 404 and f"photo {theirs[0]} is not in draft {draft_id}" in answer.text
    assert client.get(f"/drafts/{other}/photos/{theirs[0]}/image").status_code == 200


def test_posted_and_scheduled_carousels_show_the_cover_with_a_count(client, web_store) -> None:
    approved, _ = carousel(web_store, "approved", n=4)
    posted, _ = carousel(web_store, "posted", n=2)
    single = add_pending(web_store, ["Alone"], status="approved", source_name="alone.jpg")

    schedule, sent = client.get("/schedule").text, client.get("/posted").text

    assert re.search(rf'src="/drafts/{approved}/image"[^>]*>\s*<span class="count-badge on-cover"[^>]*>4<', schedule)
    assert re.search(rf'src="/drafts/{posted}/image"[^>]*>\s*<span class="count-badge on-cover"[^>]*>2<', sent)
    alone = schedule[schedule.index(f'src="/drafts/{single}/image"'):]
    assert "count-badge" not in alone[:alone.index("</span>")]  # one photo: no count


def test_add_from_the_shoot(client, web_store) -> None:
    from tests.bot.drafts.test_editing import shoot_of

    draft_id, ids = carousel(web_store, n=1)
    spare = add_pending(web_store, [], source_name="IMG_0413.HEIC")
    other = media_of(web_store, spare)[0].photo_id
    web_store.db.execute("DELETE FROM drafts WHERE id = ?", (spare,))
    web_store.update("photos", other, status="analyzed")
    shoot_of(web_store, {ids[0]: 0.9, other: 0.5})

    page = client.get(f"/drafts/{draft_id}").text
    assert "Add from this shoot (1)" in page and f'src="/drafts/{draft_id}/photos/{other}/image?v=' in page
    assert client.get(f"/drafts/{draft_id}/photos/{other}/image").status_code == 200  # an offer is shown too
    done = client.post(f"/drafts/{draft_id}/media", data={"csrf": form_token(client), "photo": str(other),
                                                          "op": "add", "next": f"/drafts/{draft_id}"})

    assert f"Draft {draft_id}: photo {other} added" in done.text
    assert strip(done.text, draft_id) == [ids[0], other] and "Add from this shoot" not in done.text


def test_split_from_the_page_writes_the_new_drafts_captions(tmp_path, tiny_blip, scripted_writer) -> None:  # noqa: F811
    from bot.captions.stage import Captioner, draft_analyzed
    from bot.drafts.editing import add_photo
    from bot.drafts.media import draft_of_photo
    from bot.runtime.ml import Runtime
    from bot.store.database import Store
    from tests.bot.captions.conftest import ABOUT_THE_PET, add_analyzed_photo, caption_config, two_stage_models

    # The scripted writer speaks of Lola in the third person: a first-person voice would prime it with "I".
    config = caption_config(tmp_path / "pawpost", two_stage_models(tiny_blip, scripted_writer), ABOUT_THE_PET)
    with Store.for_config(config) as store:
        lola = add_analyzed_photo(store, config, {"Lola": 0.9})
        draft_analyzed(store, config, Captioner(config, Runtime("cpu")))
        draft_id = draft_of_photo(store, lola)
        other = add_analyzed_photo(store, config, {"Lola": 0.8})
        add_photo(store, draft_id, other)

    with TestClient(create_app(config), base_url=LOCAL) as client:
        done = client.post(f"/drafts/{draft_id}/media/split", data={
            "csrf": form_token(client), "photo": str(other), "next": f"/drafts/{draft_id}"})
        with Store.for_config(config) as store:
            new = draft_of_photo(store, other)
        job = regenerated(client, new)

    assert done.status_code == 200
    with Store.for_config(config) as store:
        row = store.draft(new)
        assert new != draft_id and [m.photo_id for m in media_of(store, draft_id)] == [lola]
        assert row["status"] == "pending" and row["caption"] and row["note"] is None
        passed = store.value("SELECT count(*) FROM candidates WHERE draft_id = ? AND passed", (new,))
    assert f"photo {other} is now draft {new}; its captions are being written" in done.text
    assert job["state"] == "done" and job["message"].startswith(f"{passed} new candidate(s)")
