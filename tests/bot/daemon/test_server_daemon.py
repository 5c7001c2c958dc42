"""End to end with a real inference server as the writer (llama-cpp-python's server, SmolLM2-135M-Instruct):
`pawpost ingest` drafts captions that pass the rules; a `pawpost run` daemon whose server stops defers the photos,
says so in `pawpost status`, and drafts them once the server is back, without being restarted.

Skipped only when the server cannot be built or installed here (tests/real_llama.py says why).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import real_llama
from tests.bot.daemon.test_supervisor import Bot, Home, wait_for
from tests.conftest import run_cli
from tests.tiny_captions import build_blip
from tests.tiny_vision import LOOKS, pet_jpeg

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


@pytest.fixture(scope="module")
def llama_model() -> Path:
    return real_llama.model_or_skip()


@pytest.fixture(scope="module")
def describer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_blip(tmp_path_factory.mktemp("tiny-blip"))


@pytest.fixture
def llama(llama_model: Path, tmp_path: Path) -> Iterator[real_llama.LlamaServer]:
    server = real_llama.LlamaServer(llama_model, log_file=tmp_path / "llama.log").start()
    yield server
    server.stop()


def server_home(root: Path, pipeline_models: dict[str, str], describer: Path, url: str) -> Home:
    # The tiny vision models find the pets; a tiny describer says (random) words about the photo; the real model
    # on the server writes. Three rounds of four candidates: the small model's captions must pass the rules.
    models = {k: v for k, v in pipeline_models.items() if k != "captioner"}
    models.update(describer=str(describer), server=url, server_model=real_llama.MODEL_ALIAS, server_role="writer",
                  server_timeout_seconds=120, server_retries=0, server_retry_seconds=1)
    return Home(root, models, captions={"seed": 3, "candidates": 4, "max_new_tokens": 40, "max_attempts": 3})


def captions(home: Home) -> list[tuple[str | None, int]]:
    return [(r[0], r[1]) for r in home.query(
        "SELECT d.caption, (SELECT count(*) FROM candidates c WHERE c.draft_id = d.id AND c.passed = 1) "
        "FROM drafts d ORDER BY d.id")]


def test_ingest_with_the_server_as_writer_drafts_captions_that_pass_the_rules(
        llama: real_llama.LlamaServer, tmp_path: Path, pipeline_models: dict[str, str], describer: Path) -> None:
    home = server_home(tmp_path / "pawpost", pipeline_models, describer, llama.url)
    looks = list(LOOKS)
    for i in range(2):
        home.drop(f"p{i}.jpg", pet_jpeg(looks[i], 50 + i))
    done = run_cli("ingest", config=home.config, timeout=900)
    assert done.returncode == 0, done.stderr
    assert home.photos() == {"drafted": 2}
    written = captions(home)
    assert len(written) == 2
    # The tiny describer's words are random, so the small real model may leave a photo without a passing
    # candidate (its draft then waits for the owner); every caption chosen passed the rules.
    assert any(caption for caption, _ in written), written
    for caption, passed in written:
        assert (caption is None) == (passed == 0), written
    assert {r[0] for r in home.query("SELECT model_version FROM drafts")} == {f"server:{real_llama.MODEL_ALIAS}"}


def test_the_daemon_waits_for_a_stopped_server_and_drafts_when_it_is_back(
        llama: real_llama.LlamaServer, tmp_path: Path, pipeline_models: dict[str, str], describer: Path) -> None:
    home = server_home(tmp_path / "pawpost", pipeline_models, describer, llama.url)
    looks = list(LOOKS)
    # The real clock (not the supervisor tests' pinned one): a deferred photo must come due again.
    bot = Bot(home.config, home.log, {})
    home.bots.append(bot)
    try:
        home.drop("first.jpg", pet_jpeg(looks[0], 60))
        wait_for("the first draft", lambda: home.photos().get("drafted") == 1, bot, timeout=600)
        llama.stop()
        home.drop("second.jpg", pet_jpeg(looks[1], 61))
        wait_for("the second photo deferred for the server",
                 lambda: "the caption server" in (home.value("SELECT error FROM photos WHERE source_name = "
                                                             "'second.jpg'") or ""), bot, timeout=300)
        assert home.photos() == {"drafted": 1, "analyzed": 1}  # waiting, not failed
        status = run_cli("status", "--json", config=home.config)
        assert status.returncode == 0, status.stderr
        server = json.loads(status.stdout)["models"]["server"]
        assert server["unreachable_since"] and "connection refused" in server["error"], server
        text = run_cli("status", config=home.config)
        assert "unreachable since" in text.stdout, text.stdout
        # Still ingesting while the server is down: a third photo is analyzed and waits too.
        home.drop("third.jpg", pet_jpeg(looks[0], 62))
        wait_for("the third photo analyzed", lambda: home.photos().get("analyzed") == 2, bot, timeout=300)
        started = time.monotonic()
        llama.start()
        wait_for("both waiting photos drafted", lambda: home.photos().get("drafted") == 3, bot, timeout=600)
        assert bot.alive  # the same daemon, never restarted
        assert time.monotonic() - started < 600
        after = json.loads(run_cli("status", "--json", config=home.config).stdout)["models"]["server"]
        assert after["unreachable_since"] is None and after["error"] is None
    finally:
        assert bot.stop(timeout=60) == 0

