"""How sure pawpost is of a draft's pets is one number, said the same way by `drafts show`, `drafts review` and the
review page (bot.drafts.review.confidence_shown)."""

from __future__ import annotations

import re

from tests.bot.web.conftest import add_draft, set_pet
from tests.conftest import run_cli


def test_show_review_and_the_page_say_the_same_confidence(client, web_store, web_home):
    draft_id = add_draft(web_store, ["Blanket day #chihuahua"])
    set_pet(web_store, draft_id, "Lola", 0.876)
    web_store.update("drafts", draft_id, confidence=0.62)  # the draft's own figure (for auto-approval) is not shown
    cfg = web_home / "pawpost.toml"

    shown = run_cli("drafts", "show", str(draft_id), config=cfg, env={"COLUMNS": "100"})
    reviewed = run_cli("drafts", "review", "--no-preview", config=cfg, input="s\n", env={"COLUMNS": "100"})
    page = client.get(f"/drafts/{draft_id}").text

    assert shown.returncode == 0 and reviewed.returncode == 0, shown.stderr + reviewed.stderr
    said = {
        "show": re.search(r"pets:\s+Lola (\S+)", shown.stdout),
        "review": re.search(r"Lola (\S+?)[,)]", reviewed.stdout),
        "page": re.search(r'value="Lola" checked>\s*Lola <small>([^<]+)</small>', page),
    }
    assert all(said.values()), (shown.stdout, reviewed.stdout)
    assert {k: m.group(1) for k, m in said.items()} == {"show": "88%", "review": "88%", "page": "88%"}

    # Once the owner has said who it is, every surface says so instead of a number.
    client.post(f"/drafts/{draft_id}/pets", data={"csrf": re.search(r'name="csrf" value="([^"]+)"', page).group(1),
                                                  "pet": ["Lola"]})
    assert "pets:    Lola set by you" in run_cli("drafts", "show", str(draft_id), config=cfg).stdout
    assert "Lola set by you" in run_cli("drafts", "review", "--no-preview", config=cfg, input="s\n").stdout
    assert "Lola <small>set by you</small>" in client.get(f"/drafts/{draft_id}").text
