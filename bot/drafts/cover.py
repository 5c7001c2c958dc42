"""A Reel's cover: the frame of its video shown on the grid and in the feed, as seconds into the clip
(`photos.cover_at`). Chosen at analysis by the best-shot score (bot.vision.video); the owner may pick another,
through `pawpost drafts cover` or the review page, while the draft's caption may still change.
"""

from __future__ import annotations

import math

from bot import timeutil
from bot.drafts.actions import DraftView, check_version, editable, get_draft
from bot.drafts.media import media_of
from bot.errors import CoverOutside, NotAReel
from bot.store.database import Store


def set_cover(store: Store, draft_id: int, seconds: float, *, version: str | None = None) -> DraftView:
    """Make the frame `seconds` into the Reel's video its cover (0 <= seconds < the clip's length). `version`: the
    draft's version the owner's page showed; a draft changed since is refused (ChangedMeanwhile). Refused for a
    draft that is not a Reel, or whose caption may no longer change (posted, publishing, rejected)."""
    with store.tx():
        check_version(store, draft_id, version)
        editable(store, draft_id)
        media = media_of(store, draft_id)
        if len(media) != 1 or media[0].kind != "video":
            raise NotAReel(draft_id)
        clip = media[0]
        duration = float(clip.duration_s or 0.0)
        if not math.isfinite(seconds) or not 0 <= seconds < duration:
            raise CoverOutside(draft_id, seconds, duration)
        seconds = round(float(seconds), 3)
        if clip.cover_at != seconds:
            now = timeutil.iso(timeutil.now())
            store.update("photos", clip.photo_id, cover_at=seconds, updated_at=now)
            store.update("drafts", draft_id, updated_at=now)  # the draft's version changes with its cover
            store.event("draft.cover", f"draft {draft_id}: cover at {seconds:g} s (was "
                        f"{'none' if clip.cover_at is None else f'{clip.cover_at:g} s'})",
                        photo_id=clip.photo_id, draft_id=draft_id)
    return get_draft(store, draft_id)
