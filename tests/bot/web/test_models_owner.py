"""One owner of the models per process: inside `pawpost run` the review site uses the daemon's model services (one
captioner loaded, jobs one at a time), and a model action waits for the GPU while the pipeline, or another
process (a retrain, a daemon), holds it. Real tiny caption models throughout."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient

import bot.web.app as web_app
from bot.captions.stage import Captioner, draft_analyzed
from bot.drafts.media import draft_of_photo
from bot.runtime.ml import ManagedModel, Runtime
from bot.runtime.services import ModelServices
from bot.store.database import Store
from bot.web.routes import create_app
from tests.bot.captions.conftest import add_analyzed_photo, caption_config, two_stage_models
from tests.bot.conftest import OtherProcessHoldsGpuLock
from tests.bot.daemon.test_supervisor import wait_for
from tests.bot.web.conftest import LOCAL, csrf_of, form_token, free_port, regenerated
from tests.tiny_captions import scripted_writer, tiny_blip  # noqa: F401


def a_draft_to_regenerate(config: Any) -> int:
    """A pending draft, written by a captioner of the test's own (so the site's models start unloaded)."""
    with Store.for_config(config) as store:
        photo = add_analyzed_photo(store, config, {"Lola": 0.9})
        draft_analyzed(store, config, Captioner(config, Runtime("cpu")))
        return draft_of_photo(store, photo)


def count_loads(monkeypatch: Any) -> list[tuple[str, int]]:
    """Every model load from now on, as (config key, model object id)."""
    loads: list[tuple[str, int]] = []
    real = ManagedModel.load

    def load(self: ManagedModel) -> None:
        was = self.loaded
        real(self)
        if not was and self.loaded:
            loads.append((self.key, id(self)))

    monkeypatch.setattr(ManagedModel, "load", load)
    return loads


def wait_for_job(client: TestClient, draft_id: int, until: Any) -> dict[str, Any]:
    """The draft's regenerate, as the page polls it, once `until(job)` holds (within 30 s)."""
    found: dict[str, Any] = {}

    def seen() -> bool:
        found.update(client.get(f"/drafts/{draft_id}/regenerate").json())
        return bool(until(found))

    wait_for("the regenerate's progress", seen, timeout=30)
    return found


def test_run_with_the_web_page_loads_one_captioner(tmp_path: Path, tiny_blip, scripted_writer,  # noqa: F811
                                                    monkeypatch) -> None:
    from bot.daemon.threads import DaemonThreads

    config = caption_config(tmp_path / "pawpost", two_stage_models(tiny_blip, scripted_writer))
    port = free_port()
    config.web.enabled, config.web.listen = True, f"127.0.0.1:{port}"
    with Store.for_config(config) as store:
        photo = add_analyzed_photo(store, config, {"Lola": 0.9})  # the daemon's pipeline writes its captions
    loads = count_loads(monkeypatch)

    threads = DaemonThreads(config).start()
    try:
        assert threads.web is not None and threads.web.server.config.app.state.site.models is threads.models

        def drafted() -> int | None:
            with Store.for_config(config) as store:
                return draft_of_photo(store, photo)

        wait_for("the pipeline's draft", lambda: drafted() is not None, timeout=120)
        draft_id = drafted()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60, follow_redirects=True) as client:
            wait_for("the review site", lambda: client.get("/").status_code == 200, timeout=30)
            done = client.post(f"/drafts/{draft_id}/regenerate",
                               data={"csrf": csrf_of(client.get("/").text), "next": f"/drafts/{draft_id}"})
            job = regenerated(client, draft_id)
        assert done.status_code == 200 and job["state"] == "done" and "new candidate(s)" in job["message"]
    finally:
        threads.shutdown()
    # The page wrote its captions with the daemon's models, already loaded: each caption model loaded once.
    assert sorted(key for key, _ in loads) == ["describer", "writer"], loads


def test_a_web_regenerate_waits_while_the_pipeline_holds_the_models(tmp_path: Path, tiny_blip,  # noqa: F811
                                                                    scripted_writer, monkeypatch) -> None:  # noqa: F811
    import bot.captions.stage
    from bot.pipeline import process_pending

    config = caption_config(tmp_path / "pawpost", two_stage_models(tiny_blip, scripted_writer))
    config.models.batch_size = 1
    draft_id = a_draft_to_regenerate(config)
    with Store.for_config(config) as store:  # two photos waiting for the pipeline: two batches
        add_analyzed_photo(store, config, {"Lola": 0.9}, color=(20, 90, 200))
        add_analyzed_photo(store, config, {"Lola": 0.9}, color=(200, 90, 20))
    models = ModelServices(config)  # the daemon's, shared with its site
    in_batch, finish_batch = threading.Event(), threading.Event()
    regenerated_before: list[int] = []  # at the start of each batch: how many regenerates were done
    real_draft = bot.captions.stage.draft_posts

    def slow_batch(store: Any, *args: Any, **kwargs: Any) -> int:
        regenerated_before.append(store.value("SELECT count(*) FROM events WHERE kind = 'draft.regenerated'"))
        in_batch.set()
        finish_batch.wait(60)
        return real_draft(store, *args, **kwargs)

    monkeypatch.setattr(bot.captions.stage, "draft_posts", slow_batch)

    def pipeline() -> None:
        with Store.for_config(config) as store:
            process_pending(store, config, models.runtime, models=models)

    worker = threading.Thread(target=pipeline, daemon=True)
    worker.start()
    try:
        assert in_batch.wait(60), "the pipeline never started its caption batch"
        with TestClient(create_app(config, models=models), base_url=LOCAL) as client:
            started = client.post(f"/drafts/{draft_id}/regenerate", data={"csrf": form_token(client)})
            assert started.status_code == 200  # the page answers at once: the regenerate waits in its worker
            waiting = wait_for_job(client, draft_id, lambda job: job["state"] == "running")
            assert waiting["step"] == "waiting for the models" and waiting["done"] == 0
            assert client.get("/").status_code == 200  # nothing on the page waits for it
            finish_batch.set()  # the batch ends and releases them: the same regenerate now goes through
            job = regenerated(client, draft_id)
        assert job["state"] == "done" and "new candidate(s)" in job["message"]
        worker.join(60)
        # It went between the two batches: the pipeline did not take the models straight back.
        assert regenerated_before == [0, 1]
    finally:
        finish_batch.set()
        worker.join(60)


def test_a_standalone_site_waits_for_the_gpu_lock_of_another_process(tmp_path: Path, tiny_blip,  # noqa: F811
                                                                     scripted_writer, monkeypatch) -> None:  # noqa: F811
    config = caption_config(tmp_path / "pawpost", two_stage_models(tiny_blip, scripted_writer))
    draft_id = a_draft_to_regenerate(config)
    holder = OtherProcessHoldsGpuLock(config.paths.gpu_lock)  # a retrain, or a running daemon's batch
    try:
        with TestClient(create_app(config), base_url=LOCAL) as client:
            monkeypatch.setattr(web_app, "MODELS_WAIT_SECONDS", 0.3)
            client.post(f"/drafts/{draft_id}/regenerate", data={"csrf": form_token(client)})
            busy = regenerated(client, draft_id)
            assert busy["state"] == "failed" and "held by another process" in busy["message"]
            assert "The new captions were not written: " in client.get(f"/drafts/{draft_id}").text
            monkeypatch.setattr(web_app, "MODELS_WAIT_SECONDS", 60.0)
            client.post(f"/drafts/{draft_id}/regenerate", data={"csrf": form_token(client)})
            wait_for_job(client, draft_id, lambda job: job["step"] == "waiting for the models")
            # One regenerate per draft at a time: a second one while this waits is refused, and changes nothing.
            again = client.post(f"/drafts/{draft_id}/regenerate", data={"csrf": form_token(client)})
            assert again.status_code == 409 and "already being regenerated" in again.text
            assert client.get(f"/drafts/{draft_id}/regenerate").json()["state"] == "running"
            holder.release()  # the other process finishes: the same regenerate now goes through
            job = regenerated(client, draft_id)
        assert job["state"] == "done" and "new candidate(s)" in job["message"]
        with Store.for_config(config) as store:
            assert store.value("SELECT count(*) FROM events WHERE kind = 'draft.regenerated'") == 1
    finally:
        holder.release()
