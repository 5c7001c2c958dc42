"""Fixtures shared by the bot tests: tiny local models of the real architectures (built once per session), the
homes the pipeline, ingest and watcher tests share, and a local receiver for notifications."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.tiny_vision import reference_photos

FAST_CAPTIONS = {"seed": 7, "candidates": 2, "max_new_tokens": 8, "max_attempts": 1}


def _built(factory: pytest.TempPathFactory, name: str, build: Any) -> Path:
    """Build a tiny model once per test session (every module that needs it shares the folder)."""
    folder = factory.getbasetemp() / f"tiny-{name}"
    if not (folder / "config.json").is_file():
        build(folder)
    return folder


@pytest.fixture(scope="session")
def pipeline_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Tiny OWLv2, DINOv2 and chat VLM folders for end-to-end runs (the vision tests have their own set)."""
    from tests.tiny_captions import build_chat_vlm
    from tests.tiny_vision import build_dinov2, build_owlv2

    return {"detector": str(_built(tmp_path_factory, "owlv2", build_owlv2)),
            "embedder": str(_built(tmp_path_factory, "dinov2", build_dinov2)),
            "captioner": str(_built(tmp_path_factory, "chat-vlm", build_chat_vlm))}


def pipeline_home(root: Path, models: dict[str, str], **sections: dict[str, Any]) -> Path:
    """A pawpost home (its config file's path) with two pets, three reference photos each, whose models are the
    given tiny ones (`pipeline_models`), on the CPU, writing short captions fast."""
    merged: dict[str, dict[str, Any]] = {
        "models": {"device": "cpu", "batch_size": 2, **models},
        "captions": dict(FAST_CAPTIONS),  # a copy: the sections below update it
        # Every photo its own shoot, drafted at once: these homes test the stages, not shoots (whose tests set
        # their own).
        "ingest": {"stable_seconds": 0.2, "shoot_gap_seconds": 0, "shoot_settle_seconds": 0},
    }
    for name, values in sections.items():
        merged.setdefault(name, {}).update(values)
    return write_config(root, merged, reference_photos(root))


class Receiver:
    """An HTTP server on a free port: 'ok' records each JSON body, 'fail' answers 500, 'hang' never answers
    until released."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.bodies: list[dict[str, Any]] = []
        self.hits = 0
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.hits += 1
                if outer.mode == "hang":
                    outer.release.wait(30)
                if outer.mode == "ok":
                    outer.bodies.append(json.loads(body))
                self.send_response(500 if outer.mode == "fail" else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    """A notification receiver, 'ok' unless the test parametrizes it indirectly with 'fail' or 'hang'."""
    r = Receiver(getattr(request, "param", "ok"))
    yield r
    r.close()


class OtherProcessHoldsGpuLock:
    """Another process (as a retrain or a daemon's batch would be) holding the GPU lock `path` until `release()`."""

    def __init__(self, path: Path) -> None:
        import subprocess
        import sys

        from tests.conftest import REPO

        code = ("import sys; from bot.runtime.ml import GpuLock\n"
                f"with GpuLock({str(path)!r}).hold():\n    print('held', flush=True); sys.stdin.read()")
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=REPO)
        assert self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
