"""What posting did to one draft (`PostResult`): returned by the poster's tick, `post_now`, reconcile's owner
decisions and `confirm_posted`, and printed by the CLI and the review site as is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class PostResult:
    """What one publish (or reconcile) did to one draft."""

    draft_id: int
    status: str  # posted | publishing (unsettled) | approved | failed
    media_code: str | None = None
    media_url: str | None = None
    error: str | None = None
    kind: str | None = None
    message: str = ""
    outcome: str | None = None  # not_sent | refused | unknown, for a failed step
    publish_state: str | None = None  # where a `publishing` draft stands (bot.store.states.PublishState)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
