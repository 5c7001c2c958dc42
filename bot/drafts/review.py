"""What the review surfaces (the web page, `drafts list/show/edit/review`) need beyond bot.drafts.actions: the photo's
original name and capture time, pets with confidence, caption counts, rescheduling and the review site's URL.

Services only, like bot.drafts.actions: they return values and raise PawpostError; the page and the CLI format them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot import timeutil
from bot.config import Config
from bot.drafts.actions import DraftView, get_draft, list_drafts
from bot.drafts.editing import MediumView, Offered, media_views, offered
from bot.drafts.lifecycle import Action, can, require
from bot.drafts.timing import check_time, parse_at
from bot.limits import MAX_CAPTION_CHARS, MAX_MENTIONS, caption_problem, hashtags, mentions
from bot.links import is_loopback, split_listen
from bot.store.database import Store
from bot.store.states import DraftStatus
from bot.vision.photo_pets import pets_in_photos


@dataclass
class PetGuess:
    name: str
    confidence: float
    by_owner: bool


def confidence_shown(pet: PetGuess) -> str:
    """How sure pawpost is that `pet` is in the photo, as every surface shows it (`drafts show`, `drafts review`,
    the page): a whole percentage, or 'set by you' once the owner said so."""
    return "set by you" if pet.by_owner else f"{pet.confidence:.0%}"


def pets_shown(pets: list[PetGuess]) -> str:
    """'Lola 91%, Pico set by you' (or 'no pet recognised')."""
    return ", ".join(f"{p.name} {confidence_shown(p)}" for p in pets) or "no pet recognised"


@dataclass
class PhotoFacts:
    """The photo behind a draft as the owner knows it: the file name it arrived with, when it was taken (by its EXIF
    or, failing that, the file's time: `taken_at_source`)."""

    source_name: str
    taken_at: str | None
    pets: list[PetGuess] = field(default_factory=list)
    taken_at_source: str | None = None  # exif | file


@dataclass
class Card:
    """One draft with everything a reviewer needs to judge it: its photos in order, and the shoot's other shots
    it may take (only while its photos may change)."""

    draft: DraftView
    photo: PhotoFacts
    counts: CaptionCounts
    media: list[MediumView] = field(default_factory=list)
    offered: list[Offered] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.draft.id


@dataclass
class CaptionCounts:
    """The numbers the caption rules look at, and the first rule it breaks (None: it may be posted)."""

    chars: int
    hashtags: int
    mentions: int
    max_chars: int
    max_hashtags: int
    max_mentions: int
    problem: str | None


def caption_counts(text: str | None, config: Config) -> CaptionCounts:
    """Counted and checked as the CLI checks an owner's caption (bot.limits.caption_problem)."""
    text = (text or "").strip()
    return CaptionCounts(len(text), len(hashtags(text)), len(mentions(text)), MAX_CAPTION_CHARS,
                         config.captions.max_hashtags, MAX_MENTIONS,
                         caption_problem(text, config.captions.max_hashtags))


def photo_facts(store: Store, photo_ids: list[int]) -> dict[int, PhotoFacts]:
    """Facts for each photo id, in one query per kind (a queue of many drafts stays one page load)."""
    if not photo_ids:
        return {}
    marks = ",".join("?" for _ in photo_ids)
    out = {r["id"]: PhotoFacts(r["source_name"], r["taken_at"], taken_at_source=r["taken_at_source"])
           for r in store.all(f"SELECT id, source_name, taken_at, taken_at_source FROM photos WHERE id IN ({marks})",
                              photo_ids)}
    for photo_id, pets in pets_in_photos(store, photo_ids).items():
        if photo_id in out:
            out[photo_id].pets = [PetGuess(p.name, p.confidence, p.by_owner) for p in pets]
    return out


def cards(store: Store, config: Config, status: str | None = DraftStatus.PENDING, limit: int | None = None,
          *, oldest_first: bool = True) -> list[Card]:
    """Drafts in `status` as review cards, oldest first (the order they arrived in)."""
    views = list_drafts(store, status, limit)
    if oldest_first:
        views.reverse()
    facts = photo_facts(store, [v.photo_id for v in views])
    return [_card(store, config, v, facts.get(v.photo_id)) for v in views]


def card(store: Store, config: Config, draft_id: int) -> Card:
    view = get_draft(store, draft_id)
    return _card(store, config, view, photo_facts(store, [view.photo_id]).get(view.photo_id))


def _card(store: Store, config: Config, view: DraftView, facts: PhotoFacts | None) -> Card:
    media = media_views(store, view.id)  # each photo's alt text as it will be posted, the written ones included
    if view.alt_text is None and media:
        # A listed draft (list_drafts) carries only the owner's alt texts: the card shows the one it posts with.
        view.alt_text = media[0].alt_text
    extra = offered(store, view.id) if can(Action.MEDIA, view.status) else []
    return Card(view, facts or PhotoFacts("?", None), caption_counts(view.caption, config), media, extra)


def reschedule(store: Store, config: Config, draft_id: int, at: datetime | None) -> DraftView:
    """Move an approved draft to its own time `at`, or (None) back to the queue for the next free slot."""
    view = get_draft(store, draft_id)
    require(Action.RESCHEDULE, view)
    if at is not None:
        check_time(store, config, draft_id, at, free=False)
    with store.tx():
        store.set_draft_status(draft_id, DraftStatus.APPROVED, expect=DraftStatus.APPROVED,
                               scheduled_for=timeutil.iso(at))
        where = timeutil.local(at, config.schedule.zone) if at else "the next free slot"
        store.event("draft.rescheduled", f"draft {draft_id} rescheduled for {where}", draft_id=draft_id)
    return get_draft(store, draft_id)


def outbox_image(config: Config, draft_id: int) -> Path | None:
    """The dry-run publisher's image for a posted draft (data/outbox/<time>-<draft id>.jpg; a carousel's cover,
    <time>-<draft id>/01.jpg), if there is one."""
    outbox = config.paths.outbox
    if not outbox.is_dir():
        return None
    found = sorted([*outbox.glob(f"*-{int(draft_id)}.jpg"), *outbox.glob(f"*-{int(draft_id)}/01.jpg")],
                   key=lambda p: p.relative_to(outbox).parts[0])
    return found[-1] if found else None


# -- who may open the review site ------------------------------------------------------------------------------

def login_required(config: Config) -> bool:
    """Binding anywhere but loopback always requires the login link, and so does a site other machines reach
    through a proxy (trusted_proxies set, or a public_url that is not this machine); loopback alone only when the
    owner asks."""
    public_host = urlsplit(config.web.public_url).hostname if config.web.public_url else None
    return (config.web.require_login or bool(config.web.trusted_proxies)
            or (public_host is not None and not is_loopback(public_host))
            or not is_loopback(split_listen(config.web.listen)[0]))


def has_display() -> bool:
    """Whether a local viewer can open a window (a headless server has none)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def draft_line(d: DraftView, facts: PhotoFacts | None, zone: Any) -> dict[str, str]:
    """The columns of one draft in `drafts list` (and the review loop's header)."""
    when = d.posted_at or d.scheduled_for
    return {
        "id": str(d.id),
        "status": d.status,
        "file": (facts.source_name if facts else "?") + (f" [video {clip_length(d.duration_s)}]"
                                                         if d.kind == "video" else ""),
        "pets": ", ".join(d.pets) or "-",
        "caption": (d.caption or "").replace("\n", " ") or f"(no caption: see 'pawpost drafts show {d.id}')",
        "when": timeutil.local(when, zone) if when else "",
        "created": timeutil.local(d.created_at, zone),
    }


def clip_length(seconds: float | None) -> str:
    """A clip's length as the owner reads it: 0:07.4, 4:00.0."""
    if seconds is None:
        return "?"
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{rest:04.1f}"


def parse_local_time(text: str, config: Config) -> datetime:
    """The page's time field ('2026-12-24 19:00', or a browser's '2026-12-24T19:00'), in the schedule's time zone;
    seconds a browser may add are ignored."""
    return parse_at(text.strip()[:16], config)
