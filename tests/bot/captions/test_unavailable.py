"""Caption models that cannot load: photos wait (analyzed, with the reason) and are drafted once they can."""

from __future__ import annotations

from datetime import timedelta

from bot import timeutil
from bot.captions.stage import Captioner, draft_analyzed
from bot.config import load_config
from bot.drafts.media import draft_of_photo
from bot.runtime.ml import Runtime
from bot.store.database import Store
from tests.conftest import write_config

from .conftest import ABOUT_THE_PET, add_analyzed_photo, caption_config, captioner_models


def test_missing_models_leave_the_photo_waiting_then_it_is_drafted(tmp_path, monkeypatch, scripted_vlm):
    import huggingface_hub.constants

    # huggingface_hub reads HF_HUB_OFFLINE when first imported (maybe by a session fixture, before the test's
    # environment was set); without it every hub lookup retries the network with backoff for minutes.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    home = tmp_path / "pawpost"
    config = load_config(write_config(home, {"models": {"device": "cpu"}}))  # the example's hub models, offline
    store = Store.for_config(config)
    photo = add_analyzed_photo(store, config, {"Lola": 0.9}, hint="snow day")
    assert draft_analyzed(store, config, Captioner(config, Runtime("cpu"))) == 0
    row = store.photo(photo)
    assert row["status"] == "analyzed" and row["hint"] == "snow day"
    assert "models.captioner = 'HuggingFaceTB/SmolVLM2-2.2B-Instruct' cannot be loaded" in row["error"]
    assert row["retry_after"] > timeutil.iso(timeutil.now())
    assert store.get("model_error:captioner")
    assert store.value("SELECT count(*) FROM drafts") == 0
    event = store.one("SELECT * FROM events WHERE kind = 'photo.deferred'")
    assert event["photo_id"] == photo and event["level"] == "error"
    # Not due again before the backoff ends.
    assert draft_analyzed(store, config, Captioner(config, Runtime("cpu"))) == 0
    # The owner points the config at a local folder; after the backoff the photo is drafted.
    config = caption_config(home, captioner_models(scripted_vlm), captions=ABOUT_THE_PET)
    later = timeutil.now() + timedelta(hours=2)
    monkeypatch.setenv("PAWPOST_FAKE_NOW", timeutil.iso(later))
    assert draft_analyzed(store, config, Captioner(config, Runtime("cpu"))) == 1
    row = store.photo(photo)
    assert row["status"] == "drafted" and row["error"] is None and row["retry_after"] is None
    assert store.get("model_error:captioner") is None
    draft = store.draft(draft_of_photo(store, photo))
    assert draft["caption"].startswith("Lola") and draft["hint"] == "snow day"


def test_an_unreadable_photo_waits_without_blocking_the_others(tmp_path, scripted_vlm):
    config = caption_config(tmp_path / "pawpost", captioner_models(scripted_vlm))
    store = Store.for_config(config)
    gone = add_analyzed_photo(store, config, {"Lola": 0.9})
    fine = add_analyzed_photo(store, config, {"Lola": 0.9})
    store.abspath(store.photo(gone)["path"]).unlink()
    assert draft_analyzed(store, config, Captioner(config, Runtime("cpu"))) == 1
    assert store.photo(fine)["status"] == "drafted"
    assert store.photo(gone)["status"] == "analyzed" and "cannot read" in store.photo(gone)["error"]
