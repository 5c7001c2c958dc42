"""Every page and action of the review site through Starlette's test client: each action makes the same
transition and event as the CLI command it mirrors, and the CLI sees the change."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from markupsafe import escape

from bot import timeutil
from bot.drafts.actions import get_draft
from bot.drafts.media import first_photo
from tests.bot.web.conftest import add_draft, csrf_of, form_token, regenerated, set_pet
from tests.conftest import run_cli

CANDIDATES = ["Blanket day again 🐶 #chihuahua", "Lola says no to rain today #rescuedog", "Nap o'clock, do not disturb"]


def events(store, draft_id):
    return [r[0] for r in store.all("SELECT kind FROM events WHERE draft_id = ? ORDER BY id", (draft_id,))]


def test_the_queue_shows_each_pending_draft_as_it_will_be_posted(client, web_store, web_config):
    first = add_draft(web_store, CANDIDATES, source_name="IMG_0412.HEIC")
    second = add_draft(web_store, ["Zoomies"], source_name="garden/zoomies.jpg")
    add_draft(web_store, ["Already approved"], status="approved", source_name="old.jpg")
    set_pet(web_store, first, "Lola", 0.87)

    page = client.get("/")

    assert page.status_code == 200
    html = page.text
    assert "IMG_0412.HEIC" in html and "garden/zoomies.jpg" in html and "old.jpg" not in html
    for draft_id in (first, second):
        assert f'src="/drafts/{draft_id}/photos/{first_photo(web_store, draft_id)}/image?v=' in html
    for text in CANDIDATES:
        assert str(escape(text)) in html
    assert "87%" in html  # Lola's confidence, next to her checkbox
    assert "2 waiting" in html
    assert html.index("IMG_0412.HEIC") < html.index("garden/zoomies.jpg")  # oldest first


def test_the_image_is_the_posted_copy_served_by_draft_id(client, web_store, web_config):
    from PIL import Image

    from bot.publish.prepare import pet_boxes, prepare_photo

    draft_id = add_draft(web_store, CANDIDATES, size=(900, 1600), boxes=[[300, 1250, 600, 1550]])

    response = client.get(f"/drafts/{draft_id}/image")

    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    photo = web_store.photo(first_photo(web_store, draft_id))
    fresh = web_config.paths.data / "fresh.jpg"
    prepare_photo(web_store.abspath(photo["path"]), fresh, pet_boxes(web_store, photo["id"]))
    assert response.content == fresh.read_bytes()  # byte for byte what publishing makes from the same photo
    with Image.open(fresh) as im:
        assert im.size == (900, 1125)  # 9:16 cut to 4:5


@pytest.mark.parametrize("path", ["/drafts/abc/image", "/drafts/1/../../pawpost.db", "/library/x.jpg",
                                  "/drafts/..%2f..%2fpawpost.db/image", "/drafts/1/image/../../../pawpost.toml",
                                  "/static/../pawpost.db"])
def test_the_image_route_refuses_anything_but_a_draft_id(client, web_store, path):
    add_draft(web_store, CANDIDATES)

    response = client.get(path)

    assert response.status_code == 404
    assert "SQLite" not in response.text and "[paths]" not in response.text


def test_a_missing_draft_or_photo_file_is_a_404_page(client, web_store):
    draft_id = add_draft(web_store, CANDIDATES)
    web_store.abspath(web_store.photo(first_photo(web_store, draft_id))["path"]).unlink()

    assert client.get("/drafts/999").status_code == 404
    assert "there is no draft 999" in client.get("/drafts/999").text
    gone = client.get(f"/drafts/{draft_id}/image")
    assert gone.status_code == 404 and "missing from the library" in gone.text


def test_approve_a_picked_candidate_for_the_next_slot_and_the_cli_agrees(client, web_store, web_home):
    draft_id = add_draft(web_store, CANDIDATES)
    token = form_token(client)

    done = client.post(f"/drafts/{draft_id}/approve", data={"csrf": token, "pick": "2", "caption": CANDIDATES[1],
                                                           "when": "next", "next": "/"}, follow_redirects=False)

    assert done.status_code == 303 and done.headers["location"] == "/"
    d = get_draft(web_store, draft_id)
    assert (d.status, d.caption, d.edited, d.scheduled_for) == ("approved", CANDIDATES[1], False, None)
    assert "draft.approved" in events(web_store, draft_id)
    shown = run_cli("drafts", "show", str(draft_id), "--json", config=web_home / "pawpost.toml")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["caption"] == CANDIDATES[1]
    assert json.loads(shown.stdout)["status"] == "approved"
    assert "approved for the next free slot" in client.get("/").text  # the one-line result on the next page


def test_an_edited_caption_is_the_owners_and_is_kept_for_retraining(client, web_store):
    draft_id = add_draft(web_store, CANDIDATES)

    client.post(f"/drafts/{draft_id}/approve", data={"csrf": form_token(client), "pick": "1",
                                                    "caption": "My own words #chihuahua", "when": "next"})

    d = get_draft(web_store, draft_id)
    assert (d.status, d.caption, d.edited) == ("approved", "My own words #chihuahua", True)
    assert web_store.draft(draft_id)["generated_caption"] == CANDIDATES[0]


def test_alt_text_is_shown_and_edited_on_the_page_and_the_cli_agrees(client, web_store, web_config):
    draft_id = add_draft(web_store, CANDIDATES)
    written = get_draft(web_store, draft_id).alt_text or ""
    page = client.get(f"/drafts/{draft_id}").text
    assert 'name="alt_text"' in page and (not written or written in page)

    client.post(f"/drafts/{draft_id}/caption", data={"csrf": form_token(client), "caption": CANDIDATES[0],
                                                    "alt_text": "Lola, a fawn chihuahua, asleep on a red blanket."})
    assert get_draft(web_store, draft_id).alt_text == "Lola, a fawn chihuahua, asleep on a red blanket."
    shown = run_cli("drafts", "show", str(draft_id), "--json", config=web_config.source)
    assert json.loads(shown.stdout)["alt_text"] == "Lola, a fawn chihuahua, asleep on a red blanket."

    too_long = " ".join(["word"] * 120)
    response = client.post(f"/drafts/{draft_id}/approve", data={"csrf": form_token(client), "when": "next",
                                                               "caption": CANDIDATES[0], "alt_text": too_long})
    assert response.status_code == 409 and "100" in response.text
    d = get_draft(web_store, draft_id)
    assert d.status == "pending" and d.alt_text == "Lola, a fawn chihuahua, asleep on a red blanket."


def test_approve_at_a_chosen_time_and_it_shows_on_the_schedule(client, web_store, web_config):
    draft_id = add_draft(web_store, CANDIDATES)
    when = (timeutil.now() + timedelta(days=1)).replace(hour=12, minute=15)

    client.post(f"/drafts/{draft_id}/approve", data={"csrf": form_token(client), "caption": CANDIDATES[0],
                                                    "when": "at", "at": when.strftime("%Y-%m-%dT%H:%M")})

    d = get_draft(web_store, draft_id)
    assert d.status == "approved" and d.scheduled_for == timeutil.iso(when.replace(second=0, microsecond=0))
    schedule = client.get("/schedule").text
    assert f"Draft {draft_id}" in schedule and when.strftime("%Y-%m-%d 12:15") in schedule


def test_a_time_in_the_past_is_a_409_page_and_nothing_changes(client, web_store):
    draft_id = add_draft(web_store, CANDIDATES)

    response = client.post(f"/drafts/{draft_id}/approve", data={"csrf": form_token(client), "when": "at",
                                                               "at": "2020-01-01T10:00"})

    assert response.status_code == 409 and "in the past" in response.text
    assert get_draft(web_store, draft_id).status == "pending"


@pytest.mark.parametrize("at", ["2020-01-01T10:00", "yesterday"])
def test_the_page_words_a_bad_time_without_the_clis_flags(client, web_store, at):
    draft_id = add_draft(web_store, CANDIDATES)

    response = client.post(f"/drafts/{draft_id}/approve", data={"csrf": form_token(client), "when": "at", "at": at})

    assert response.status_code == 409
    assert "--at" not in response.text and ("in the past" in response.text or "is not a date and time" in response.text)
    client.post(f"/drafts/{draft_id}/approve", data={"csrf": form_token(client), "pick": "1", "when": "queue"})
    assert get_draft(web_store, draft_id).status == "approved"
    moved = client.post(f"/drafts/{draft_id}/schedule", data={"csrf": form_token(client), "when": "at", "at": at})
    assert moved.status_code == 409 and "--at" not in moved.text
    assert "in the past" in moved.text or "is not a date and time" in moved.text


def test_a_caption_over_the_rules_is_refused_with_the_clis_reason(client, web_store):
    draft_id = add_draft(web_store, CANDIDATES)
    spam = "Too many " + " ".join(f"#tag{i}" for i in range(9))

    response = client.post(f"/drafts/{draft_id}/caption", data={"csrf": form_token(client), "caption": spam})

    assert response.status_code == 409
    assert "9 hashtags; at most 5 are allowed" in response.text
    assert get_draft(web_store, draft_id).caption == CANDIDATES[0]


def test_a_caption_with_a_control_character_is_refused_exactly_as_the_cli_refuses_it(client, web_store, web_home):
    draft_id = add_draft(web_store, CANDIDATES)
    other = add_draft(web_store, CANDIDATES)
    bad = "Lola rings the bell\x07 #chihuahua"

    response = client.post(f"/drafts/{draft_id}/caption", data={"csrf": form_token(client), "caption": bad})
    cli = run_cli("drafts", "approve", str(other), "--caption", bad, config=web_home / "pawpost.toml")

    reason = "the caption contains a control character (U+0007, line 1); remove it (Instagram cannot show it)"
    assert cli.returncode == 1 and reason in cli.stderr
    assert response.status_code == 409 and str(escape(reason)) in response.text
    assert get_draft(web_store, draft_id).caption == CANDIDATES[0]
    # A caption that already holds one (stored before the check, say) is flagged on its card by the same check.
    web_store.update("drafts", draft_id, caption=bad)
    card = client.get(f"/drafts/{draft_id}").text
    assert f'<span class="problem">{escape(reason)}</span>' in card


def test_save_caption_picks_a_candidate_or_keeps_an_edit_without_approving(client, web_store):
    draft_id = add_draft(web_store, CANDIDATES)

    client.post(f"/drafts/{draft_id}/caption", data={"csrf": form_token(client), "pick": "3",
                                                    "caption": CANDIDATES[2]})
    d = get_draft(web_store, draft_id)
    assert (d.status, d.caption, d.edited) == ("pending", CANDIDATES[2], False)

    client.post(f"/drafts/{draft_id}/caption", data={"csrf": form_token(client), "caption": "Edited\nover two lines"})
    d = get_draft(web_store, draft_id)
    assert (d.status, d.caption, d.edited) == ("pending", "Edited\nover two lines", True)


def test_reject_records_the_reason_and_only_pending_drafts_can_be(client, web_store):
    draft_id = add_draft(web_store, CANDIDATES)
    approved = add_draft(web_store, ["ok"], status="approved")

    client.post(f"/drafts/{draft_id}/reject", data={"csrf": form_token(client), "reason": "blurry"})
    refused = client.post(f"/drafts/{approved}/reject", data={"csrf": form_token(client)})

    d = get_draft(web_store, draft_id)
    assert (d.status, d.reject_reason) == ("rejected", "blurry")
    assert "draft.rejected" in events(web_store, draft_id)
    assert refused.status_code == 409 and "only pending drafts can be rejected" in refused.text
    assert get_draft(web_store, approved).status == "approved"


def test_correcting_the_pets_saves_the_owners_word(client, web_store):
    draft_id = add_draft(web_store, CANDIDATES)
    set_pet(web_store, draft_id, "Lola", 0.55)

    done = client.post(f"/drafts/{draft_id}/pets", data={"csrf": form_token(client), "pet": ["Bruno"]},
                       follow_redirects=True)

    assert done.status_code == 200 and "pets set to Bruno" in done.text
    assert get_draft(web_store, draft_id).pets == ["Bruno"]
    photo_id = first_photo(web_store, draft_id)
    assert web_store.value("SELECT kind FROM events WHERE photo_id = ? ORDER BY id DESC", (photo_id,)) == "photo.pets"
    assert "set by you" in client.get(f"/drafts/{draft_id}").text


def test_save_pets_and_regenerate_writes_the_captions_in_the_background(client, web_store):
    draft_id = add_draft(web_store, CANDIDATES)

    done = client.post(f"/drafts/{draft_id}/pets", data={"csrf": form_token(client), "pet": ["Bruno"],
                                                          "regenerate": "1"}, follow_redirects=True)
    job = regenerated(client, draft_id)

    # The pets are saved at once; the regenerate is the page's background one (here without a loadable model).
    assert done.status_code == 200 and "pets set to Bruno" in done.text and "; writing new captions" in done.text
    assert job["state"] == "failed" and "cannot be loaded" in job["message"]
    assert get_draft(web_store, draft_id).pets == ["Bruno"]


def test_reschedule_an_approved_draft_and_back_to_the_queue(client, web_store):
    draft_id = add_draft(web_store, CANDIDATES, status="approved")
    pending = add_draft(web_store, ["wait"])
    when = (timeutil.now() + timedelta(days=2)).replace(hour=7, minute=45, second=0, microsecond=0)
    token = form_token(client, "/schedule")

    at = when.strftime("%Y-%m-%dT%H:%M")
    client.post(f"/drafts/{draft_id}/schedule", data={"csrf": token, "when": "at", "at": at, "next": "/schedule"})
    assert get_draft(web_store, draft_id).scheduled_for == timeutil.iso(when)
    assert "draft.rescheduled" in events(web_store, draft_id)

    client.post(f"/drafts/{draft_id}/schedule", data={"csrf": token, "when": "queue"})
    assert get_draft(web_store, draft_id).scheduled_for is None

    refused = client.post(f"/drafts/{pending}/schedule", data={"csrf": token, "when": "at",
                                                              "at": when.strftime("%Y-%m-%dT%H:%M")})
    assert refused.status_code == 409 and "approve it first" in refused.text


def test_regenerate_without_a_loadable_model_says_so_and_changes_nothing(client, web_store):
    draft_id = add_draft(web_store, CANDIDATES)

    response = client.post(f"/drafts/{draft_id}/regenerate", data={"csrf": form_token(client), "hint": "at the beach"})
    job = regenerated(client, draft_id)

    assert response.status_code == 200
    assert job["state"] == "failed" and "cannot be loaded" in job["message"]
    assert "The new captions were not written: " in client.get(f"/drafts/{draft_id}").text
    assert get_draft(web_store, draft_id).candidates == CANDIDATES


def test_an_action_on_a_draft_that_does_not_exist_is_a_404_page(client, web_store):
    response = client.post("/drafts/4242/approve", data={"csrf": form_token(client)})

    assert response.status_code == 404 and "there is no draft 4242" in response.text


def test_posted_lists_the_instagram_link_or_the_outbox_file(client, web_store, web_config):
    online = add_draft(web_store, ["online"], status="approved")
    dry = add_draft(web_store, ["dry"], status="approved")
    now = timeutil.iso(timeutil.now())
    for draft_id in (online, dry):
        web_store.set_draft_status(draft_id, "publishing")
    web_store.set_draft_status(online, "posted", posted_at=now, media_code="C0de",
                               media_url="https://www.instagram.com/p/C0de/")
    web_store.set_draft_status(dry, "posted", posted_at=now, media_code="dry-1")
    web_config.paths.outbox.mkdir(parents=True, exist_ok=True)
    (web_config.paths.outbox / f"20261120T093000-{dry}.jpg").write_bytes(b"jpeg")

    html = client.get("/posted").text

    assert 'href="https://www.instagram.com/p/C0de/"' in html
    assert f"outbox file 20261120T093000-{dry}.jpg" in html


def test_status_shows_what_pawpost_status_knows(client, web_store):
    draft_id = add_draft(web_store, ["stuck"], status="approved")
    web_store.set_draft_status(draft_id, "publishing", error="read timeout after configure")
    web_store.put("posting_stopped", "Instagram wants a security check; run 'pawpost login' (ChallengeRequired).")
    now = timeutil.iso(timeutil.now())
    web_store.insert("photos", sha256="x", status="quarantined", source_name="broken.jpg", reason="not an image",
                     created_at=now, updated_at=now)

    html = client.get("/status").text

    assert "run &#39;pawpost login&#39;" in html
    assert f"pawpost reconcile {draft_id}" in html and f"pawpost drafts resend {draft_id}" in html
    assert "broken.jpg: not an image" in html
    assert "captioner" in html and "No retrain yet." in html


def test_unknown_pages_and_methods_get_a_page_not_a_traceback(client):
    assert client.get("/nowhere").status_code == 404
    wrong = client.put("/drafts/1/approve")
    assert wrong.status_code == 405 and "Traceback" not in wrong.text


def test_a_draft_changed_by_the_cli_shows_changed_on_the_page(client, web_store, web_home):
    draft_id = add_draft(web_store, CANDIDATES)

    done = run_cli("drafts", "approve", str(draft_id), "--candidate", "3", config=web_home / "pawpost.toml")

    assert done.returncode == 0, done.stderr
    html = client.get(f"/drafts/{draft_id}").text
    assert "approved" in html and csrf_of(html)
    assert f"{escape(CANDIDATES[2])}</textarea>" in html


def test_picking_a_slot_puts_the_draft_there_ahead_of_the_queue(client, web_store, web_config):
    from bot.publish.slots import SlotBook

    first = add_draft(web_store, ["first in the queue"], status="approved")
    second = add_draft(web_store, ["second in the queue"], status="approved")
    before = SlotBook(web_store, web_config).upcoming(timeutil.now(), 2)
    assert [s.draft_id for s in before] == [first, second]
    page = client.get("/schedule").text
    slot = timeutil.local(before[0].slot.at, web_config.schedule.zone).replace(" ", "T")
    assert f'<option value="{slot}">' in page

    client.post(f"/drafts/{second}/schedule", data={"csrf": csrf_of(page), "when": "at", "slot": slot,
                                                    "at": ""})

    after = SlotBook(web_store, web_config).upcoming(timeutil.now(), 2)
    assert [s.draft_id for s in after] == [second, first]


def test_next_free_slot_on_a_draft_approved_for_a_time_puts_it_back_in_the_queue(client, web_store, web_config):
    from bot.drafts.actions import approve

    draft_id = add_draft(web_store, CANDIDATES)
    approve(web_store, web_config, draft_id, at=timeutil.now() + timedelta(days=3))

    client.post(f"/drafts/{draft_id}/approve", data={"csrf": form_token(client), "caption": CANDIDATES[0],
                                                    "when": "next"})

    d = get_draft(web_store, draft_id)
    assert d.status == "approved" and d.scheduled_for is None


def test_the_schedule_shows_a_cooldown_only_while_it_lasts(client, web_store):
    # A cooldown that ended is not news: the page said "Cooling down until" a past time when no poster had run since.
    now = timeutil.now()
    web_store.put("cooldown_until", timeutil.iso(now - timedelta(minutes=5)))
    assert "Cooling down until" not in client.get("/schedule").text
    web_store.put("cooldown_until", timeutil.iso(now + timedelta(hours=2)))
    assert "Cooling down until" in client.get("/schedule").text
