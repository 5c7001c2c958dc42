"""The daemon's working threads (bot/daemon/threads.py): a worker survives errors, the poster is built the one way
and watched for hangs, the captioner follows the model registry. The daemon as a
whole: tests/bot/daemon/test_supervisor.py.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from bot.errors import PawpostError
from tests.bot.conftest import pipeline_home


def test_a_worker_logs_an_owners_error_in_one_line_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    from bot.daemon.threads import Worker

    stop, rounds, torn_down = threading.Event(), [], []

    def body(_stop: threading.Event) -> float:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise PawpostError("the inbox folder is gone")
        stop.set()
        return 0.0

    with caplog.at_level(logging.ERROR, logger="bot.daemon.threads"):
        worker = Worker("intake", body, stop, teardown=lambda: torn_down.append(True)).start()
        worker.thread.join(30)

    assert not worker.thread.is_alive() and rounds == [0, 1] and torn_down == [True]
    [line] = [r for r in caplog.records if r.name == "bot.daemon.threads"]
    assert "intake: the inbox folder is gone (trying again in 2s)" in line.getMessage() and line.exc_info is None


def test_a_worker_logs_a_bug_with_its_traceback_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    from bot.daemon.threads import Worker

    stop, rounds = threading.Event(), []

    def body(_stop: threading.Event) -> float:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise KeyError("a bug")
        stop.set()
        return 0.0

    with caplog.at_level(logging.ERROR, logger="bot.daemon.threads"):
        worker = Worker("worker", body, stop).start()
        worker.thread.join(30)

    assert rounds == [0, 1]
    [line] = [r for r in caplog.records if r.name == "bot.daemon.threads"]
    assert "unexpected error" in line.getMessage() and line.exc_info is not None


def test_a_thread_that_ended_is_reported_so_the_daemon_exits(config) -> None:
    from bot.daemon.threads import DaemonThreads, Worker

    threads = DaemonThreads(config)  # not started: one worker whose thread has ended (its own stop was set)
    ended = threading.Event()
    ended.set()
    worker = Worker("worker", lambda _stop: 0.0, ended).start()
    worker.thread.join(10)
    threads.workers = [worker]
    assert threads.dead() == "the worker thread has stopped"
    threads.stop.set()
    assert threads.dead() is None  # stopping on purpose is not a death


def test_the_poster_is_built_by_the_factory_and_a_hung_tick_is_reported(config) -> None:
    from bot.daemon.threads import POSTER_STALL_SECONDS, DaemonThreads, WatchedPoster
    from bot.publish.poster import Poster

    threads = DaemonThreads(config)
    try:
        watched = threads._make_poster()
        assert isinstance(watched, WatchedPoster) and threads.poster is watched
        assert isinstance(watched.poster, Poster) and watched.poster.publisher.name == "dry-run"
        assert threads.hung() is None
        watched.busy_since = time.monotonic() - POSTER_STALL_SECONDS - 1  # a tick that never came back
        assert threads.hung() == "a posting tick has been running for over 30 minutes"
        watched.busy_since = None
        watched.close()
    finally:
        threads._close_store()


def test_a_promoted_caption_model_replaces_the_running_captioner(tmp_path: Path,
                                                                pipeline_models: dict[str, str]) -> None:
    """What the worker does on each wake: a new current version in the registry means a new Captioner."""
    from bot.captions.registry import Decision, Registry
    from bot.config import load_config
    from bot.daemon.threads import DaemonThreads

    config = load_config(pipeline_home(tmp_path / "home", pipeline_models))
    threads = DaemonThreads(config)  # not started: the worker's steps, called directly
    first = threads._captioner()
    assert first.adapter_dir is None
    threads._check_model_version()
    assert threads._captioner() is first  # nothing changed: the loaded model is kept

    registry = Registry(config)
    version = registry.create("vlm", config.models.captioner)
    version.adapter_dir.mkdir()
    registry.finish(version, metrics={}, counts={}, keys=[], decision=Decision(True, "better"))
    threads._check_model_version()
    second = threads._captioner()
    assert second is not first and second.adapter_dir == version.adapter_dir

    registry.rollback()
    threads._check_model_version()
    assert threads._captioner().adapter_dir is None
