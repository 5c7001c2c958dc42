"""The review site's pages (GET): review queue, one draft, its image, schedule, posted history, status, login.

Each reads through the services the CLI uses (bot.drafts.actions, bot.drafts.review, bot.status, the slot book).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from bot import timeutil
from bot.store.database import Store
from bot.store.states import DraftStatus
from bot.web.app import site_of
from bot.web.reels import reel_views

QUEUE_LIMIT = 50
POSTED_LIMIT = 100
REJECTED_LIMIT = 10  # the latest rejected drafts listed under the queue, each with its Restore button
# The posted page: drafts that went out, may have, or were refused.
SENT_STATES = (DraftStatus.POSTED, DraftStatus.PUBLISHING, DraftStatus.FAILED)


def _pet_names(store: Store, config: Any) -> list[str]:
    """Every pet the owner can tick: the configured ones first, then any added with 'pawpost pets add'."""
    names = [p.name for p in config.pets]
    known = {n.lower() for n in names}
    names += [r[0] for r in store.all("SELECT name FROM pets ORDER BY name") if r[0].lower() not in known]
    return names


def _image_versions(store: Store, cards: list[Any], reels: Any = None) -> dict[int, str]:
    """A cache-busting version per photo a card shows (its media and the shoot's offers), by photo id: it changes
    when the posted copy would change (a clip's: its cover, framed as `reels` frames the Reel)."""
    from bot.publish.prepare import prepared_key

    ids = {m.photo_id for c in cards for m in [*c.media, *c.offered]}
    return {photo_id: prepared_key(store, photo_id, reels=reels)[0] for photo_id in ids}


async def queue(request: Request) -> Response:
    site = site_of(request)

    def load(store: Store) -> dict[str, Any]:
        from bot.drafts.actions import list_drafts
        from bot.drafts.review import cards
        from bot.publish.gate import posting_blocked

        items = cards(store, site.config, DraftStatus.PENDING, QUEUE_LIMIT)
        return {"cards": items, "pet_names": _pet_names(store, site.config),
                "versions": _image_versions(store, items, site.config.reels),
                "reels": reel_views(store, site.config, items),
                "waiting": store.counts()["drafts"][DraftStatus.PENDING], "blocked": posting_blocked(store),
                "recently_rejected": list_drafts(store, DraftStatus.REJECTED, REJECTED_LIMIT)}

    return site.render(request, "queue.html", **await site.run(load), config=site.config)


async def draft(request: Request) -> Response:
    site = site_of(request)
    draft_id = request.path_params["draft_id"]

    def load(store: Store) -> dict[str, Any]:
        from bot.drafts.review import card
        from bot.publish.unsettled import waiting

        item = card(store, site.config, draft_id)
        # An unsettled draft the owner can confirm: handed over to post by hand (notify), or sent with no answer.
        return {"card": item, "pet_names": _pet_names(store, site.config),
                "versions": _image_versions(store, [item], site.config.reels),
                "reels": reel_views(store, site.config, [item]),
                "waiting": waiting(store, draft_id)}

    return site.render(request, "draft.html", **await site.run(load), config=site.config)


async def image(request: Request) -> Response:
    """The posted copy of a draft's photo, found by the draft's id only: no path ever comes from the URL."""
    site = site_of(request)
    draft_id = request.path_params["draft_id"]

    def load(store: Store) -> Any:
        from bot.drafts.media import first_photo
        from bot.publish.errors import BadContent, PublishError
        from bot.publish.prepare import prepared_copy

        photo_id = first_photo(store, draft_id)
        try:
            return prepared_copy(store, photo_id, reels=site.config.reels)
        except (BadContent, PublishError) as exc:
            return str(exc)

    return _jpeg(request, await site.run(load))


async def photo_image(request: Request) -> Response:
    """The posted copy of one photo a draft's card shows: one of its media, or a shot its shoot offers to add.
    The photo id from the URL is only ever looked up among those."""
    site = site_of(request)
    draft_id, photo_id = request.path_params["draft_id"], request.path_params["photo_id"]

    def load(store: Store) -> Any:
        from bot.drafts.editing import offered
        from bot.drafts.media import media_of
        from bot.errors import NotInDraft
        from bot.publish.errors import BadContent, PublishError
        from bot.publish.prepare import prepared_copy

        if photo_id not in [m.photo_id for m in media_of(store, draft_id)] and photo_id not in [
                o.photo_id for o in offered(store, draft_id)]:
            raise NotInDraft(draft_id, photo_id)
        try:
            return prepared_copy(store, photo_id, reels=site.config.reels)
        except (BadContent, PublishError) as exc:
            return str(exc)

    return _jpeg(request, await site.run(load))


def _jpeg(request: Request, path: Any) -> Response:
    if isinstance(path, str):
        return site_of(request).message(request, 404, "No image", path)
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


async def schedule(request: Request) -> Response:
    site = site_of(request)

    def load(store: Store) -> dict[str, Any]:
        from bot.drafts.actions import list_drafts
        from bot.publish.gate import cooldown_until, posting_blocked
        from bot.publish.slots import SlotBook

        now = timeutil.now()
        slots = SlotBook(store, site.config).upcoming(now, 14)
        approved = {d.id: d for d in list_drafts(store, DraftStatus.APPROVED)}
        placed = {s.draft_id for s in slots if s.draft_id is not None}
        return {"slots": slots, "drafts": approved, "later": [d for i, d in approved.items() if i not in placed],
                "blocked": posting_blocked(store, now), "cooldown": cooldown_until(store, now)}

    return site.render(request, "schedule.html", **await site.run(load), config=site.config)


async def posted(request: Request) -> Response:
    site = site_of(request)

    def load(store: Store) -> dict[str, Any]:
        from bot.drafts.actions import list_drafts
        from bot.drafts.review import outbox_image, photo_facts

        items = [d for d in list_drafts(store, None, None) if d.status in SENT_STATES]
        items = items[:POSTED_LIMIT]
        items.sort(key=lambda d: d.posted_at or d.created_at, reverse=True)
        outbox = {d.id: outbox_image(site.config, d.id) for d in items if not d.media_url}
        return {"items": items, "outbox": outbox, "facts": photo_facts(store, [d.photo_id for d in items])}

    return site.render(request, "posted.html", **await site.run(load), config=site.config)


async def status(request: Request) -> Response:
    site = site_of(request)

    def load(store: Store) -> dict[str, Any]:
        from bot.drafts.actions import list_drafts
        from bot.publish.gate import posting_blocked
        from bot.status import status as status_of

        facts = status_of(store, site.config)
        return {"facts": facts, "unsettled": list_drafts(store, DraftStatus.PUBLISHING),
                "blocked": posting_blocked(store), "retrain": _last_retrain(site.config)}

    return site.render(request, "status.html", **await site.run(load), config=site.config)


def _last_retrain(config: Any) -> Any:
    from bot.captions.registry import Registry
    from bot.errors import PawpostError

    try:
        return Registry(config).last_run()
    except PawpostError:
        return None


async def login_form(request: Request) -> Response:
    """The one-time link's landing page: a button that spends the token (a link preview never does)."""
    site = site_of(request)
    wait = site.limiter.blocked(client_address(request))
    if wait:
        return too_many(request, wait)
    token = request.query_params.get("token", "")
    if not token:
        return site.refuse_session(request, "missing")
    return site.render(request, "login.html", token=token)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


def too_many(request: Request, wait: float) -> Response:
    return site_of(request).message(request, 429, "Too many failed logins",
                                    f"Try again in {max(1, round(wait / 60))} minute(s).",
                                    "Run 'pawpost web --url' on the server for a fresh link.")
