"""The review list shows each draft's alt text: every photo's of a carousel in its strip, the single photo's in its
field, and a posted draft's beside its caption."""

from __future__ import annotations

from bot.drafts.media import update_medium
from tests.bot.publish.conftest import make_carousel
from tests.bot.web.conftest import add_draft


def test_the_queue_shows_every_photo_s_alt_text(client, web_store):
    single = add_draft(web_store, ["one"])
    update_medium(web_store, single, 0, alt_text="A chihuahua on a red blanket.")
    carousel = make_carousel(web_store, status="pending")
    for place, text in enumerate(["First: the sofa.", "Second: the park.", "Third: the nap."]):
        update_medium(web_store, carousel, place, alt_text=text)
    posted = add_draft(web_store, ["gone out"], status="approved")
    update_medium(web_store, posted, 0, alt_text="A dog at the beach.")
    web_store.set_draft_status(posted, "publishing")
    web_store.set_draft_status(posted, "posted", media_code="XYZ")

    queue = client.get("/").text

    assert ">A chihuahua on a red blanket.</textarea>" in queue
    for text in ("First: the sofa.", "Second: the park.", "Third: the nap."):
        assert f"Alt text: {text}</p>" in queue
    assert "Alt text: A dog at the beach.</p>" in client.get(f"/drafts/{posted}").text
