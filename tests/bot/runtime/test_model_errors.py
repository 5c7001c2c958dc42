"""bot/runtime/model_errors.py: a model's load error is remembered per key until it loads, and read back by status and
doctor (which never fail because the database cannot be read)."""

from __future__ import annotations

from bot.runtime.model_errors import (
    MODEL_ERROR,
    clear_model_error,
    model_errors,
    model_errors_for,
    record_model_error,
)
from bot.store.database import Store


def test_recorded_per_model_until_cleared(store: Store) -> None:
    assert model_errors(store, ["detector", "captioner"]) == {"detector": None, "captioner": None}
    record_model_error(store, "captioner", "no such folder")
    record_model_error(store, "detector", "out of memory")
    assert model_errors(store, ["detector", "captioner"]) == {"detector": "out of memory",
                                                              "captioner": "no such folder"}
    assert store.get(MODEL_ERROR.format("captioner")) == "no such folder"  # the key status and doctor read
    clear_model_error(store, "captioner")
    assert model_errors(store, ["detector", "captioner"]) == {"detector": "out of memory", "captioner": None}


def test_clearing_a_model_without_an_error_writes_nothing(store: Store) -> None:
    clear_model_error(store, "embedder")
    assert store.value("SELECT count(*) FROM kv WHERE key LIKE 'model_error:%'") == 0


def test_read_from_the_config_database_for_the_doctor(config, store: Store) -> None:
    record_model_error(store, "writer", "gated repo")
    store.close()
    assert model_errors_for(config, ["writer", "describer"]) == {"writer": "gated repo", "describer": None}


def test_an_unreadable_database_gives_no_errors_for_the_doctor(config) -> None:
    db = config.paths.database
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    assert model_errors_for(config, ["detector"]) == {}
