"""`pawpost drafts regenerate` in a subprocess, as the owner runs it."""

from __future__ import annotations

import json

from bot.captions.stage import Captioner, draft_analyzed
from bot.drafts.media import draft_of_photo
from bot.runtime.ml import Runtime
from bot.store.database import Store
from tests.conftest import run_cli

from .conftest import add_analyzed_photo, caption_config, two_stage_models


def test_regenerate_command(tmp_path, tiny_blip, scripted_writer):
    home = tmp_path / "pawpost"
    config = caption_config(home, two_stage_models(tiny_blip, scripted_writer))
    with Store.for_config(config) as store:
        photo = add_analyzed_photo(store, config, {"Lola": 0.9})
        draft_analyzed(store, config, Captioner(config, Runtime("cpu")))
        draft_id = draft_of_photo(store, photo)
        seed = store.draft(draft_id)["seed"]
    cfg = home / "pawpost.toml"
    r = run_cli("drafts", "regenerate", str(draft_id), "--hint", "after the groomer", "--start", "Lola", "--json",
                config=cfg)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["id"] == draft_id and d["hint"] == "after the groomer"
    assert d["caption"].startswith("Lola") and all(c.startswith("Lola") for c in d["candidates"])
    with Store.for_config(config) as store:
        row = store.draft(draft_id)
        assert row["seed"] != seed and "after the groomer" in row["prompt"] and row["start_text"] == "Lola"
    r = run_cli("drafts", "regenerate", "999", config=cfg)
    assert r.returncode == 1 and "there is no draft 999" in r.stderr
    r = run_cli("drafts", "regenerate", "--help", config=cfg)
    assert r.returncode == 0 and "--start" in r.stdout and "--hint" in r.stdout
