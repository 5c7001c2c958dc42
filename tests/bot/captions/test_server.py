"""bot/captions/server*.py against a scripted OpenAI-style HTTP server on loopback: what each request carries,
candidates from servers that ignore `n`, retries with back-off, and every failure as a ServerUnavailable.

The same backend against llama.cpp's real server: test_server_real.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.captions.generate import GenerationSettings
from bot.captions.prompt import Prompt
from bot.errors import ServerUnavailable

Answer = Callable[[str, dict[str, Any]], tuple[int, Any]]


class ScriptedServer:
    """Answers GET /v1/models and POST /v1/chat/completions with `answer(path, body)` -> (status, JSON body)."""

    def __init__(self, answer: Answer, models: tuple[str, ...] = ("m1",), port: int = 0) -> None:
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                outer.requests.append((self.path, {}, dict(self.headers)))
                self._reply(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in models]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
                outer.requests.append((self.path, body, dict(self.headers)))
                self._reply(*answer(self.path, body))

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def chats(self) -> list[dict[str, Any]]:
        return [body for path, body, _ in self.requests if path.endswith("/chat/completions")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def completion(*texts: str, finish: str = "stop") -> dict[str, Any]:
    return {"choices": [{"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": finish}
                        for i, t in enumerate(texts)]}


@pytest.fixture
def serve() -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(answer: Answer, **kwargs: Any) -> ScriptedServer:
        servers.append(ScriptedServer(answer, **kwargs))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def models_config(url: str, role: str = "writer", **keys: Any) -> Any:
    from bot.config import ModelsConfig

    extra = {"describer": "d"} if role == "writer" else {}
    return ModelsConfig(server=url, server_model="m1", server_role=role, **extra, **keys)


def backend(url: str, role: str = "writer", **keys: Any) -> Any:
    from bot.captions.server import ServerModel
    from bot.runtime.ml import Runtime

    return ServerModel(models_config(url, role, **keys), Runtime(device="cpu", caption_image_px=256))


PROMPT = Prompt(system="You write captions.", user="Write one caption about Lola.", lead="I")
SETTINGS = GenerationSettings(candidates=3, max_new_tokens=20, temperature=0.8, top_p=0.9)


def test_a_server_that_ignores_n_is_asked_again_with_the_next_seeds(serve: Any) -> None:
    server = serve(lambda _p, body: (200, completion(f"I nap, seed {body['seed']}")))
    out = backend(server.url).write([[]], [PROMPT], SETTINGS, seed=100)
    assert out == [["I nap, seed 100", "I nap, seed 101", "I nap, seed 102"]]
    chats = server.chats()
    assert [c["n"] for c in chats] == [3, 2, 1]
    first = chats[0]
    assert (first["model"], first["temperature"], first["top_p"], first["max_tokens"], first["stop"]) == \
        ("m1", 0.8, 0.9, 20, ["\n"])
    # The prompt as chat messages; the first words it cannot be primed with are asked for instead.
    assert first["messages"][0] == {"role": "system", "content": "You write captions."}
    assert first["messages"][1]["content"] == 'Write one caption about Lola. Begin the caption with "I".'


def test_a_server_that_honours_n_is_asked_once(serve: Any) -> None:
    server = serve(lambda _p, body: (200, completion(*[f"I play {i}" for i in range(body["n"])])))
    out = backend(server.url).write([[]], [PROMPT], SETTINGS, seed=5)
    assert out == [["I play 0", "I play 1", "I play 2"]] and len(server.chats()) == 1


def test_the_captioner_sends_the_photo_and_an_answer_cut_off_is_marked(serve: Any) -> None:
    server = serve(lambda _p, body: (200, completion("I sit on the", "I sit", finish="length")))
    photo = Image.new("RGB", (1000, 500), (200, 30, 30))
    out = backend(server.url, role="captioner").write([[photo]], [PROMPT], GenerationSettings(candidates=2), seed=1)
    assert [getattr(c, "cut_off", None) for c in out[0]] == [True, True]
    content = server.chats()[0]["messages"][1]["content"]
    assert content[0]["type"] == "image_url" and content[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    import base64
    import io

    sent = Image.open(io.BytesIO(base64.b64decode(content[0]["image_url"]["url"].split(",", 1)[1])))
    assert max(sent.size) == 256  # models.caption_image_px
    assert content[1] == {"type": "text", "text": 'Write one caption about Lola. Begin the caption with "I".'}


def test_the_owners_first_words_begin_every_candidate(serve: Any) -> None:
    server = serve(lambda _p, _b: (200, completion("my blanket is the best")))
    prompt = Prompt(system="s", user="u", start="Sunday mood:")
    out = backend(server.url).write([[]], [prompt], GenerationSettings(candidates=1), seed=1)
    assert out == [["Sunday mood: my blanket is the best"]]


def test_a_5xx_is_tried_again_and_then_answered(serve: Any, no_sleep: None) -> None:
    answers = iter([(500, {"error": {"message": "boom"}}), (503, {"detail": "loading"})])
    server = serve(lambda _p, _b: next(answers, (200, completion("I am back"))))
    out = backend(server.url).write([[]], [PROMPT], GenerationSettings(candidates=1), seed=1)
    assert out == [["I am back"]] and len(server.chats()) == 3


def test_a_server_that_keeps_failing_is_unavailable_with_its_reason(serve: Any, no_sleep: None) -> None:
    server = serve(lambda _p, _b: (500, {"error": {"message": "CUDA out of memory"}}))
    model = backend(server.url, server_retries=2, server_retry_seconds=5)
    with pytest.raises(ServerUnavailable) as caught:
        model.write([[]], [PROMPT], GenerationSettings(candidates=1), seed=1)
    assert len(server.chats()) == 3  # one try and two retries
    assert "HTTP 500: CUDA out of memory" in str(caught.value) and server.url in str(caught.value)
    assert caught.value.key == "server" and caught.value.retry_seconds == 5
    assert not model.loaded  # the next batch asks /models again first


def test_a_model_the_server_does_not_list_is_unavailable(serve: Any) -> None:
    server = serve(lambda _p, _b: (200, completion("never asked")), models=("other", "qwen"))
    with pytest.raises(ServerUnavailable, match=r"has no model 'm1' \(it lists: 'other', 'qwen'\)"):
        backend(server.url).write([[]], [PROMPT], GenerationSettings(candidates=1), seed=1)
    assert server.chats() == []


def test_a_refused_api_key_says_which_key_to_check(serve: Any, tmp_path: Path) -> None:
    server = serve(lambda _p, _b: (401, {"error": {"message": "bad token"}}))
    key = tmp_path / "key"
    key.write_text("sekrit\n")
    with pytest.raises(ServerUnavailable, match="server_api_key_file") as caught:
        backend(server.url, server_api_key_file=key).write([[]], [PROMPT], GenerationSettings(candidates=1), seed=1)
    assert "sekrit" not in str(caught.value)
    assert server.requests[-1][2]["Authorization"] == "Bearer sekrit"


def test_no_server_listening_is_unavailable_at_once(no_sleep: None) -> None:
    from tests.real_llama import free_port

    with pytest.raises(ServerUnavailable, match=r"no connection \(connection refused\)"):
        backend(f"http://127.0.0.1:{free_port()}/v1").write([[]], [PROMPT], GenerationSettings(candidates=1),
                                                             seed=1)


@pytest.mark.parametrize(("keys", "wrong"), [
    ({"server": "gpu-box:11434"}, "base URL"),
    ({"server": "http://gpu-box:11434/v1"}, "server_model must name"),
    ({"server": "http://h/v1", "server_model": "m", "server_role": "writer"}, 'needs describer'),
    ({"server": "http://h/v1", "server_model": "m", "describer": "d", "writer": "w"}, "writer are unused"),
])
def test_server_keys_that_do_not_fit_are_refused(keys: dict[str, Any], wrong: str) -> None:
    from pydantic import ValidationError

    from bot.config import ModelsConfig

    with pytest.raises(ValidationError, match=wrong):
        ModelsConfig(**keys)


def test_photos_wait_for_a_server_that_is_down_and_are_drafted_when_it_answers(tmp_path: Path, serve: Any,
                                                                                tiny_blip: Path) -> None:
    from datetime import timedelta

    from bot import timeutil
    from bot.captions.stage import Captioner, draft_analyzed
    from bot.runtime.ml import Runtime
    from bot.status import models_status
    from bot.store.database import Store
    from tests.real_llama import free_port

    from .conftest import ABOUT_THE_PET, add_analyzed_photo, caption_config

    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    models = {"describer": str(tiny_blip), "server": url, "server_model": "m1", "server_role": "writer",
              "server_retries": 0, "server_retry_seconds": 20}
    config = caption_config(tmp_path / "home", models, captions=ABOUT_THE_PET)
    store = Store.for_config(config)
    photos = [add_analyzed_photo(store, config, {"Lola": 0.9}) for _ in range(2)]
    captioner = Captioner(config, Runtime("cpu"))
    assert draft_analyzed(store, config, captioner) == 0
    for photo in photos:
        row = store.photo(photo)
        assert row["status"] == "analyzed" and row["attempts"] == 1
        assert f"the caption server {url}" in row["error"] and "connection refused" in row["error"]
        # Tried again after models.server_retry_seconds, not the minutes a model that cannot load waits.
        wait = timeutil.parse(row["retry_after"]) - timeutil.now()
        assert timedelta(seconds=15) < wait <= timedelta(seconds=20)
    down = models_status(store, config)["server"]
    assert down["unreachable_since"] and "connection refused" in down["error"] and down["url"] == url
    assert "captioner" not in models_status(store, config)  # the local chat VLM is not in use
    from tests.conftest import run_cli

    shown = run_cli("status", config=config.source)
    assert shown.returncode == 0, shown.stderr
    assert "unreachable since" in shown.stdout and "connection refused" in shown.stdout, shown.stdout
    assert store.value("SELECT count(*) FROM drafts") == 0

    # The server comes up on that port; the same Captioner drafts the photos once they are due.
    up = serve(lambda _p, body: (200, completion(f"Lola naps on her blanket {body['seed']}.")), port=port)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAWPOST_FAKE_NOW", timeutil.iso(timeutil.now() + timedelta(seconds=30)))
        assert draft_analyzed(store, config, captioner) == 2
    assert len(up.chats()) == 2 * config.captions.candidates
    assert {store.photo(p)["status"] for p in photos} == {"drafted"}
    assert models_status(store, config)["server"]["unreachable_since"] is None
    assert store.value("SELECT model_version FROM drafts LIMIT 1") == "server:m1"
    assert store.value("SELECT count(*) FROM drafts WHERE caption LIKE 'Lola naps on her blanket%'") == 2


def test_retraining_is_off_with_a_server_unless_a_local_writer_can_be_tuned(tmp_path: Path) -> None:
    from bot.captions.registry import caption_model, retrain_off
    from bot.status import status
    from bot.store.database import Store
    from training.retrain import retrain

    from .conftest import caption_config

    server = {"server": "http://127.0.0.1:9/v1", "server_model": "qwen2.5vl:7b"}
    config = caption_config(tmp_path / "a", {**server, "server_role": "captioner"})
    assert caption_model(config).backend == "server"
    with Store.for_config(config) as store:
        result = retrain(store, config, force=True)
        assert result.status == "off" and result.to_json()["promoted"] is False
        assert "cannot fine-tune" in result.message and "'qwen2.5vl:7b'" in result.message
        assert status(store, config)["retrain_off"] == result.message
    # A local writer beside the server writer: the retrain tunes it.
    config = caption_config(tmp_path / "b", {**server, "server_role": "writer", "describer": "d", "writer": "w"})
    assert caption_model(config).key == "writer" and retrain_off(config) is None


def test_doctor_checks_the_server_its_model_and_whether_it_sees_photos(serve: Any, tmp_path: Path) -> None:
    from bot.captions.health import caption_checks

    from .conftest import caption_config

    colour = {"answer": "Red."}
    server = serve(lambda _p, _b: (200, completion(colour["answer"])), models=("vlm", "other"))
    config = caption_config(tmp_path / "a", {"server": server.url, "server_model": "vlm", "server_role": "captioner"})
    checks = {c.name: c for c in caption_checks(config)}
    assert checks["caption server"].ok and "2 model(s)" in checks["caption server"].message
    assert checks["caption server model"].ok
    images = checks["caption server images"]
    assert images.ok and not images.warning and "sees photos" in images.message
    asked = server.chats()[-1]["messages"][0]["content"]
    assert asked[0]["image_url"]["url"].startswith("data:image/png;base64,")
    colour["answer"] = "I cannot tell"
    images = {c.name: c for c in caption_checks(config)}["caption server images"]
    assert images.ok and images.warning and "text-only" in images.message
    config = caption_config(tmp_path / "b", {"server": server.url, "server_model": "nope"})
    checks = {c.name: c for c in caption_checks(config)}
    assert not checks["caption server model"].ok and "'other'" in checks["caption server model"].message


def test_doctor_says_when_the_server_does_not_answer(tmp_path: Path) -> None:
    from bot.captions.health import caption_checks
    from tests.real_llama import free_port

    from .conftest import caption_config

    url = f"http://127.0.0.1:{free_port()}/v1"
    config = caption_config(tmp_path / "a", {"server": url, "server_model": "vlm"})
    checks = list(caption_checks(config))
    assert [(c.name, c.ok) for c in checks] == [("caption server", False)]
    assert "does not answer" in checks[0].message and "connection refused" in checks[0].message


def test_the_captioner_sends_a_posts_photos_in_order_up_to_the_prompts_count(serve: Any) -> None:
    server = serve(lambda _p, _b: (200, completion("I and my friends")))
    photos = [Image.new("RGB", (64, 48), colour) for colour in ((250, 0, 0), (0, 250, 0), (0, 0, 250))]
    prompt = Prompt(system="s", user="u", images=2)
    backend(server.url, role="captioner").write([photos], [prompt], GenerationSettings(candidates=1), seed=1)
    content = server.chats()[0]["messages"][1]["content"]
    assert [c["type"] for c in content] == ["image_url", "image_url", "text"]
    import base64
    import io

    sent = [Image.open(io.BytesIO(base64.b64decode(c["image_url"]["url"].split(",", 1)[1]))).convert("RGB")
            for c in content[:2]]
    assert [max(range(3), key=lambda i: im.getpixel((32, 24))[i]) for im in sent] == [0, 1]  # red, then green
