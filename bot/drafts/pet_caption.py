"""The caption follows the owner's word on the pets: when `drafts pets` (or the page) changes who is in a draft,
the pets' names and hashtags in its caption and candidates are swapped or dropped, or a regenerate is offered.

A plain fix is a word-for-word swap: a removed pet's name becomes the pet that took its place, its hashtags that
pet's (or are dropped), a new pet's hashtags are added while there is room; the result passes the caption rules.
Anything else (a removed pet named in the prose with no pet in its place, a fix that breaks a rule) is not
guessed at: the caption is left as it was and `needs_regenerate` says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot import limits
from bot.config import Config
from bot.drafts.lifecycle import Action, can
from bot.store.database import Store

__all__ = ["CaptionFix", "fix_caption", "fix_draft_caption"]


@dataclass
class CaptionFix:
    """What became of a caption after the pets changed: `text` (the caption to keep, fixed or as it was),
    `changed`, and `needs_regenerate` (why a plain fix is not enough; None when the caption fits the pets now)."""

    text: str
    changed: bool
    needs_regenerate: str | None = None


def _name_re(name: str) -> re.Pattern[str]:
    # The name as a word (Lola, Lola's), never inside another word or a hashtag.
    return re.compile(rf"(?<![\w#@]){re.escape(name)}(?!\w)", re.IGNORECASE)


def _tag_re(tag: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w#]){re.escape(tag)}(?!\w)", re.IGNORECASE)


def _tidy(text: str) -> str:
    """Spaces left by a dropped hashtag: none doubled, none at a line's end, no empty hashtag line left behind."""
    lines = [re.sub(r"[ \t]{2,}", " ", line).strip() for line in text.split("\n")]
    out = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


def fix_caption(text: str, before: list[str], after: list[str], config: Config) -> CaptionFix:
    """`text` for the pets `after` instead of `before` (names as configured)."""
    low_after = {n.lower() for n in after}
    low_before = {n.lower() for n in before}
    removed = [n for n in before if n.lower() not in low_after]
    added = [n for n in after if n.lower() not in low_before]
    fixed = text
    dropped = False
    why: list[str] = []
    for i, old in enumerate(removed):
        new = added[i] if i < len(added) else None
        old_pet, new_pet = config.pet(old), config.pet(new) if new else None
        old_tags = old_pet.hashtags if old_pet else []
        new_tags = new_pet.hashtags if new_pet else []
        for j, tag in enumerate(old_tags):
            # A tag another pet of the post (or the account) also carries stays.
            if tag.lower() in {t.lower() for t in _kept_tags(config, after)}:
                continue
            swap = new_tags[j] if j < len(new_tags) else ""
            fixed, n = _tag_re(tag).subn(swap, fixed)
            dropped = dropped or (n > 0 and not swap)
        if _name_re(old).search(fixed):
            if new is None:
                why.append(f"the caption talks about {old}, who is not in the photo")
                continue
            fixed = _name_re(old).sub(new, fixed)
            if old_pet and new_pet and old_pet.species.lower() != new_pet.species.lower():
                why.append(f"{old} was a {old_pet.species} and {new} is a {new_pet.species}, so the words may "
                           "not fit")
    if dropped:
        fixed = _tidy(fixed)
    wanted = [t for n in after if (p := config.pet(n)) is not None for t in p.hashtags]
    fixed = limits.add_hashtags(fixed, wanted, config.captions.max_hashtags)
    if why and any("not in the photo" in w for w in why):
        return CaptionFix(text, False, "; ".join(why))
    problem = limits.caption_problem(fixed, config.captions.max_hashtags)
    if problem:
        return CaptionFix(text, False, f"the fixed caption would break a rule ({problem})")
    return CaptionFix(fixed, fixed != text, "; ".join(why) or None)


def _kept_tags(config: Config, pets: list[str]) -> list[str]:
    return [t for n in pets if (p := config.pet(n)) is not None for t in p.hashtags] + list(config.captions.hashtags)


def fix_draft_caption(store: Store, config: Config, view: Any, before: list[str]) -> CaptionFix | None:
    """Fix a draft's caption and its latest candidates for its pets now (`view`, bot.drafts.actions' DraftView
    after the correction; the pets were `before`), in one transaction. None when its caption can no longer change
    (approved drafts and earlier only) or the pets are the same. A caption that cannot be fixed plainly is left as
    it was, with the reason as the draft's note (the page shows a Regenerate button beside it)."""
    draft_id = view.id
    if not can(Action.EDIT, view.status) or [n.lower() for n in before] == [n.lower() for n in view.pets]:
        return None
    if not view.caption:
        return CaptionFix("", False, None)
    fix = fix_caption(view.caption, before, view.pets, config)
    with store.tx():
        fields: dict[str, object] = {}
        if fix.changed:
            fields["caption"] = fix.text
        if fix.needs_regenerate:
            fields["note"] = f"The pets changed: {fix.needs_regenerate}. Regenerate the caption for them."
        if fields:
            store.set_draft_status(draft_id, view.status, expect=view.status, **fields)
        for row in store.all("SELECT id, text FROM candidates WHERE draft_id = ? AND generation = "
                             "(SELECT max(generation) FROM candidates WHERE draft_id = ?)", (draft_id, draft_id)):
            candidate = fix_caption(row["text"], before, view.pets, config)
            if candidate.changed:
                store.db.execute("UPDATE candidates SET text = ? WHERE id = ?", (candidate.text, row["id"]))
        if fix.changed:
            store.event("draft.caption_fixed", f"draft {draft_id}: caption fixed for the pets "
                        f"{', '.join(view.pets) or 'none'}", draft_id=draft_id)
    return fix
