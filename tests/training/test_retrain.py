"""Full retrains with tiny models on both backends: train, judge, promote only what is better, roll back."""

from __future__ import annotations

import json
import os
import signal

from bot.captions.registry import Registry
from tests.conftest import run_cli
from tests.training.conftest import add_posts, retrain_sections
from training.retrain import retrain


def test_too_few_new_posts_is_a_clean_skip(make_home, writer_models, tmp_path):
    config, store = make_home(retrain_sections(writer_models, min_new_posts=30, steps=8))
    add_posts(store, 6)
    result = run_cli("retrain", "--json", config=config.source)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["status"], data["new_posts"], data["version"]) == ("skipped", 6, None)
    assert "retrain.min_new_posts" in data["message"]
    assert Registry(config).versions() == []
    text = run_cli("retrain", config=config.source)
    assert text.returncode == 0 and "nothing to do" in text.stdout

    # --force cannot make 6 posts enough to judge a new model: nothing is trained, and the owner is told why.
    forced = run_cli("retrain", "--force", "--json", config=config.source)
    assert forced.returncode == 0, forced.stderr
    data = json.loads(forced.stdout)
    assert data["status"] == "skipped" and "retrain.min_holdout_posts" in data["message"]
    assert "history import" in data["message"] and data["counts"]["holdout"] == 2
    assert Registry(config).versions() == []

    # With 24 posts, 8 are held out: --force trains; the summary shows old vs new with intervals and the decision.
    add_posts(store, 18, first=6)
    forced = run_cli("retrain", "--force", config=config.source, timeout=600)
    assert forced.returncode == 0, forced.stderr
    assert "BLEU" in forced.stdout and "refused candidates" in forced.stdout and ".." in forced.stdout
    assert "paired bootstrap over the 8 held-out posts" in " ".join(forced.stdout.split())
    assert "v001" in forced.stdout and ("promoted" in forced.stdout or "not promoted" in forced.stdout)
    assert [v.id for v in Registry(config).versions()] == ["v001"]


def test_writer_retrain_promotes_a_better_model_and_keeps_a_worse_one(make_home, writer_models):
    from bot.runtime.ml import Runtime
    from bot.runtime.services import current_model_version, make_captioner

    # 150 steps: the tiny writer then learns the voice clearly whatever its vocabulary (which follows the prompt
    # templates and the example config) happens to be; at 50 a change of either left BLEU's gain within the noise.
    config, store = make_home(retrain_sections(writer_models, steps=150))
    add_posts(store, 40)
    runtime = Runtime("cpu", "float32")
    seen_by_daemon = current_model_version(config)
    assert seen_by_daemon is None

    first = retrain(store, config, runtime=runtime)

    assert first.status == "promoted", first.message
    assert first.version.id == "v001" and first.version.current and first.version.promoted
    bleu = first.gate["metrics"]["bleu"]
    assert bleu["new"] > bleu["old"] and bleu["low"] > 0  # better beyond the noise
    assert first.new["refused_share"] <= first.old["refused_share"]
    assert first.counts["train"] + first.counts["holdout"] == 40 and first.counts["holdout"] == 8
    assert first.train.steps == first.train.total_steps == 150
    assert first.too_little is None and first.plan["done_steps"] == 150
    # Both models wrote through the caption stage: several candidates per post, the same number for both.
    old, new = first.written["old"], first.written["new"]
    assert len(old.judged) == len(new.judged) == 8
    assert all(j.candidates >= config.captions.candidates for j in old.judged + new.judged)
    saved = Registry(config).version("v001")
    assert saved.base_model == config.models.writer and saved.backend == "writer"
    assert (saved.adapter_dir / "adapter_config.json").is_file()
    assert saved.metrics["new"] == first.new and saved.metrics["old"] == first.old
    assert saved.metrics["gate"]["metrics"]["bleu"] == bleu and saved.settings["style_examples"] == 0
    assert len(saved.metrics["samples"]) == 5

    # The daemon polls the registry: the version changed, so it reloads a Captioner with the new adapter.
    assert current_model_version(config) == "v001" != seen_by_daemon
    captioner = make_captioner(config, runtime)
    assert captioner.adapter_dir == saved.adapter_dir and captioner.version == "v001"
    captioner.writer.load()
    assert captioner.writer.loaded
    captioner.unload()

    # Nothing new since v001: the next scheduled run is skipped.
    assert retrain(store, config, runtime=runtime).status == "skipped"

    # Made worse on purpose: an absurd learning rate blows the adapter's weights up.
    add_posts(store, 10, first=40)
    config.retrain.learning_rate = 1.0
    config.retrain.steps = 10
    worse = retrain(store, config, runtime=runtime)

    assert worse.status == "kept", worse.message
    assert worse.old_label == "v001"  # judged against the model in use, not the base model
    assert "not promoted" in worse.message and worse.version.reason in worse.message
    assert Registry(config).current_id() == "v001"
    assert [(v.id, v.promoted) for v in Registry(config).versions()] == [("v001", True), ("v002", False)]

    # Rollback from v001 returns to the base model; the daemon would reload again.
    assert run_cli("models", "rollback", config=config.source).returncode == 0
    assert current_model_version(config) is None


def test_vlm_retrain_trains_judges_and_records_a_version(make_home, vlm_models):
    from bot.runtime.ml import Runtime
    from bot.runtime.services import make_captioner

    config, store = make_home(retrain_sections(vlm_models, steps=9, min_holdout_posts=3, learning_rate=1e-4))
    add_posts(store, 20)
    result = retrain(store, config, runtime=Runtime("cpu", "float32"))

    assert result.status in ("promoted", "kept"), result.message
    version = Registry(config).version(result.version.id)
    assert version.backend == "vlm" and version.base_model == config.models.captioner
    assert set(version.metrics["new"]) >= {"cider", "bleu", "rouge_l", "distinct_2", "refused_share", "mean_length"}
    assert version.counts["holdout"] == 3 and result.train.steps == 9
    # 9 steps at 1e-4 move the adapter too little to expect a change: the result says so.
    assert result.too_little and "too little training" in result.too_little
    assert result.status == "promoted" or "too little training" in result.message
    # The adapter applies to the daemon's own VLM loading code.
    Registry(config).promote(version.id)
    captioner = make_captioner(config, Runtime("cpu", "float32"))
    captioner.vlm.load()
    assert captioner.vlm.loaded and captioner.version == version.id
    captioner.unload()


def test_sigterm_stops_training_cleanly(make_home, writer_models):
    from training.finetune import stop_on_sigterm

    config, store = make_home(retrain_sections(writer_models, steps=250, min_holdout_posts=3))
    add_posts(store, 20)

    def terminate_at_step_two(phase: str, done: int, total: int, loss: float | None) -> None:
        if phase == "train" and done == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # as systemd stops the job

    with stop_on_sigterm() as stop:
        result = retrain(store, config, progress=terminate_at_step_two, stop=stop)

    assert result.status == "stopped"
    assert result.train.steps == 2 < result.train.total_steps
    assert Registry(config).versions() == []
    assert not list((config.paths.models / "captioner").glob("v*"))
    assert not _lock_held(config)
    # The previous SIGTERM handler is back.
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def _lock_held(config) -> bool:
    from bot.runtime.ml import GpuLock

    return GpuLock(config.paths.gpu_lock).is_held()
