"""`drafts review` offers new candidates in the loop ([g]), with a hint, through the same service as
`drafts regenerate`."""

from __future__ import annotations

from click.testing import CliRunner

from bot.captions.stage import Captioner, draft_analyzed
from bot.drafts.media import draft_of_photo
from bot.runtime.ml import Runtime
from bot.store.database import Store

from .conftest import add_analyzed_photo, caption_config, two_stage_models


def test_regenerate_from_the_review_loop(tmp_path, tiny_blip, scripted_writer):
    from bot.cli import cli

    home = tmp_path / "pawpost"
    config = caption_config(home, two_stage_models(tiny_blip, scripted_writer))
    with Store.for_config(config) as store:
        photo = add_analyzed_photo(store, config, {"Lola": 0.9})
        draft_analyzed(store, config, Captioner(config, Runtime("cpu")))
        draft_id = draft_of_photo(store, photo)
        seed = store.draft(draft_id)["seed"]

    result = CliRunner().invoke(cli, ["--config", str(home / "pawpost.toml"), "drafts", "review", "--no-preview"],
                                input="g\nafter the groomer\ns\n")

    assert result.exit_code == 0, result.output
    assert "[g] regenerate" in result.output and f"draft {draft_id} caption:" in result.output
    with Store.for_config(config) as store:
        row = store.draft(draft_id)
        assert row["seed"] != seed and row["hint"] == "after the groomer" and row["status"] == "pending"
