"""Regenerate from the page with real (tiny, local) caption models: the same service as the CLI's command."""

from __future__ import annotations

from starlette.testclient import TestClient

from bot.captions.stage import Captioner, draft_analyzed
from bot.drafts.media import draft_of_photo
from bot.runtime.ml import Runtime
from bot.store.database import Store
from bot.web.routes import create_app
from tests.bot.captions.conftest import add_analyzed_photo, caption_config, two_stage_models
from tests.bot.web.conftest import LOCAL, form_token, regenerated
from tests.tiny_captions import scripted_writer, tiny_blip  # noqa: F401


def test_regenerate_with_a_hint_and_first_words(tmp_path, tiny_blip, scripted_writer):  # noqa: F811
    config = caption_config(tmp_path / "pawpost", two_stage_models(tiny_blip, scripted_writer))
    with Store.for_config(config) as store:
        photo = add_analyzed_photo(store, config, {"Lola": 0.9})
        draft_analyzed(store, config, Captioner(config, Runtime("cpu")))
        draft_id = draft_of_photo(store, photo)
        seed = store.draft(draft_id)["seed"]

    with TestClient(create_app(config), base_url=LOCAL) as client:
        done = client.post(f"/drafts/{draft_id}/regenerate", data={
            "csrf": form_token(client), "hint": "after the groomer", "start": "Lola", "next": f"/drafts/{draft_id}"})
        job = regenerated(client, draft_id)
        page = client.get(f"/drafts/{draft_id}")

    assert done.status_code == 200 and "writing new captions" in done.text
    assert job["state"] == "done" and "new candidate(s)" in job["message"] and job["done"] == job["total"]
    assert "New captions written: " + job["message"] in page.text
    with Store.for_config(config) as store:
        row = store.draft(draft_id)
        candidates = [r[0] for r in store.all("SELECT text FROM candidates WHERE draft_id = ? AND generation = 1 "
                                              "AND passed", (draft_id,))]
        kinds = [r[0] for r in store.all("SELECT kind FROM events WHERE draft_id = ?", (draft_id,))]
    assert row["seed"] != seed and row["hint"] == "after the groomer" and row["start_text"] == "Lola"
    assert candidates and all(c.startswith("Lola") for c in candidates) and row["caption"].startswith("Lola")
    assert "draft.regenerated" in kinds


def test_the_pages_models_are_unloaded_when_idle(tmp_path, tiny_blip, scripted_writer):  # noqa: F811
    config = caption_config(tmp_path / "pawpost", two_stage_models(tiny_blip, scripted_writer))
    config.models.idle_unload_minutes = 0.1  # unloaded 7 s after the last use
    with Store.for_config(config) as store:
        photo = add_analyzed_photo(store, config, {"Lola": 0.9})
        draft_analyzed(store, config, Captioner(config, Runtime("cpu")))
        draft_id = draft_of_photo(store, photo)
    app = create_app(config)
    site = app.state.site

    with TestClient(app, base_url=LOCAL) as client:
        client.post(f"/drafts/{draft_id}/regenerate", data={"csrf": form_token(client)})
        assert regenerated(client, draft_id)["state"] == "done"
        models = site.captioner().models
        assert any(m.loaded for m in models)
        site._unload_timer.join(30)

    assert not any(m.loaded for m in models)
