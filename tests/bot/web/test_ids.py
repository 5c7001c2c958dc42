"""Draft ids beyond what SQLite can hold in a URL: every page and action is the 404 page, never a 500."""

from __future__ import annotations

import pytest

from tests.bot.web.conftest import add_draft, form_token

HUGE = "99999999999999999999"


@pytest.mark.parametrize("draft_id", [HUGE, str(2**63), str(2**63 - 1)])
def test_pages_and_actions_with_a_huge_id_are_the_404_page(web_store, client, draft_id: str) -> None:
    real = add_draft(web_store, ["Nap o'clock"])
    assert client.get(f"/drafts/{real}").status_code == 200  # the same route answers a real id

    for path in (f"/drafts/{draft_id}", f"/drafts/{draft_id}/image", f"/drafts/{draft_id}/photos/1/image",
                 f"/drafts/{real}/photos/{draft_id}/image"):
        page = client.get(path)
        assert page.status_code == 404, (path, page.status_code)
        assert "Traceback" not in page.text
    token = form_token(client)
    for action in ("approve", "caption", "reject", "regenerate", "pets", "schedule", "posted", "media",
                   "media/split"):
        response = client.post(f"/drafts/{draft_id}/{action}", data={"csrf": token, "when": "queue"})
        assert response.status_code == 404, (action, response.status_code)
