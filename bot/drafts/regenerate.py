"""Fresh caption candidates for a pending draft (one photo or a carousel, as its media are now), written by the
caption stage with a new seed: the owner's `drafts regenerate` and the page's button.
"""

from __future__ import annotations

from typing import Any

from bot.captions import context
from bot.captions.generate import new_seed
from bot.captions.stage import Captioner, caption_photos, describe_media, insert_candidates, no_caption_note
from bot.config import Config
from bot.controls import refuse_controls
from bot.drafts.actions import DraftView, get_draft
from bot.drafts.lifecycle import Action, require
from bot.drafts.media import media_of
from bot.errors import EmptyStart, ModelUnavailable
from bot.runtime.model_errors import clear_model_error, record_model_error
from bot.store.database import Store
from bot.store.states import DraftStatus


def regenerate(store: Store, config: Config, captioner: Captioner, draft_id: int, hint: str | None = None,
               start: str | None = None, vision: Any = None) -> DraftView:
    """Fresh candidates for a pending draft, with a new seed; `hint` is kept as the photo's hint for the
    writer, `start` makes every candidate begin with the owner's words. The best one becomes the caption.

    Every photo of the post is captioned together (its media in their current order, so a photo added or
    removed since counts), and each medium's description is refreshed for its alt text."""
    row = store.draft(draft_id)
    require(Action.REGENERATE, row)
    if start is not None and not start.strip():
        raise EmptyStart
    refuse_controls(start or "", "start text")
    refuse_controls(hint or "", "hint")
    hint = hint.strip() if hint is not None and hint.strip() else row["hint"]
    generation = (store.value("SELECT max(generation) FROM candidates WHERE draft_id = ?", (draft_id,)) or 0) + 1
    # A fixed captions.seed still gives each regeneration its own (reproducible) seed.
    seed = config.captions.seed + 1009 * generation if config.captions.seed is not None else new_seed()
    job = context.load_post(store, config, [m.photo_id for m in media_of(store, draft_id)], hint=hint)
    try:
        outcome = caption_photos(store, config, captioner, [job], vision=vision, start=start, seed=seed)[0]
    except ModelUnavailable as exc:
        record_model_error(store, exc.key, exc.reason)
        raise
    for model in captioner.models:
        clear_model_error(store, model.key)
    best = outcome.best
    fields: dict[str, Any] = {
        "prompt": outcome.prompt.record(), "seed": outcome.seed, "model_version": captioner.version, "hint": hint,
        "start_text": outcome.prompt.start or None, "confidence": job.confidence, "note": None,
    }
    if best is not None:
        # The owner asked for new words: the new best replaces the caption, an earlier edit included.
        fields.update(caption=best.text, chosen=0, edited=0, generated_caption=None)
    with store.tx():
        insert_candidates(store, draft_id, outcome.candidates, generation=generation)
        describe_media(store, draft_id, job)
        if best is None:
            fields["note"] = no_caption_note(config, outcome, draft_id) + (
                " The previous caption is kept." if row["caption"] else "")
        store.set_draft_status(draft_id, DraftStatus.PENDING, expect=DraftStatus.PENDING, **fields)
        store.event("draft.regenerated", f"draft {draft_id}: {len(outcome.candidates)} new candidate(s), seed "
                    f"{outcome.seed}" + ("" if best else ", none passed the rules"), draft_id=draft_id,
                    level="info" if best else "warning")
    return get_draft(store, draft_id)
