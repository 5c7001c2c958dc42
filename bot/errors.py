"""Typed errors shared by every service.

`PawpostError` and its children are the owner's to fix: the CLI prints their message as one line and exits 1.
"""

from __future__ import annotations


class PawpostError(Exception):
    """An error the owner can act on; its message is one clear sentence saying what to do."""


class ConfigError(PawpostError):
    """The config file or an environment override is wrong."""


class NotFound(PawpostError):
    """A draft, photo, pet or model version that does not exist."""


class IllegalTransition(PawpostError):
    """A state change the state machine does not allow (e.g. approving a posted draft)."""


class GpuBusy(PawpostError):
    """Another job holds the models (this process's pipeline, or a retrain or daemon in another process) for longer
    than the caller waits; nothing was done, and the same request succeeds once that job is finished."""


class ModelUnavailable(PawpostError):
    """A configured model could not be loaded; work that needs it waits and is retried later."""

    def __init__(self, key: str, model_id: str, reason: str) -> None:
        self.key, self.model_id, self.reason = key, model_id, reason
        super().__init__(f"models.{key} = {model_id!r} cannot be loaded: {reason}")
