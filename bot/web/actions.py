"""The review site's actions (every POST): each one calls the service the CLI's command calls, so both make
the same transitions and the same events; then it sends the browser back where it came from with one line.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from bot.errors import ChangedMeanwhile, PawpostError
from bot.store.database import Store
from bot.web.app import back as _back
from bot.web.app import site_of
from bot.web.auth import COOKIE, end_session, session_version, use_login_token
from bot.web.pages import client_address, too_many


def _text(form: FormData, key: str) -> str | None:
    value = form.get(key)
    if value is None or not isinstance(value, str) or not value.strip():
        return None
    return value.replace("\r\n", "\n").strip()


def _pick(form: FormData) -> int | None:
    value = _text(form, "pick")
    if value is None:
        return None
    if not value.isdigit():
        raise PawpostError(f"candidate {value!r} is not a number")
    return int(value)


def caption_choice(view: Any, form: FormData) -> dict[str, Any]:
    """The page's caption box and candidate pick as the service's arguments: a picked candidate left as it was
    is that candidate; text that differs from the current caption is the owner's edit (kept for retraining)."""
    text, pick = _text(form, "caption"), _pick(form)
    if pick is not None and (text is None or (1 <= pick <= len(view.candidates)
                                              and text == view.candidates[pick - 1].strip())):
        return {"candidate": pick}
    if text is not None and text != (view.caption or "").strip():
        return {"caption": text}
    return {}


async def approve(request: Request, form: FormData) -> Response:
    site = site_of(request)
    draft_id = request.path_params["draft_id"]

    def run(store: Store) -> str:
        from bot.drafts.actions import approve as approve_draft
        from bot.drafts.actions import get_draft
        from bot.drafts.review import parse_local_time, reschedule

        at = None
        if form.get("when") == "at":
            if not _text(form, "at"):
                raise PawpostError("pick a date and time, or choose 'next free slot'")
            at = parse_local_time(str(form["at"]), site.config)
        view = get_draft(store, draft_id)
        choice = caption_choice(view, form)
        alt = _text(form, "alt_text")
        if alt is not None and alt != (view.alt_text or "").strip():
            choice["alt_text"] = alt
        # The page's caption field shows every hashtag, as the editor does: what the owner approves is posted as is.
        done = approve_draft(store, site.config, draft_id, at=at, add_hashtags=False,
                             expect_version=_text(form, "version"), **choice)
        if at is None and done.scheduled_for:
            # 'next free slot' on a draft approved for a time: back to the queue, as the schedule page does.
            reschedule(store, site.config, draft_id, None)
        from bot import timeutil
        from bot.publish.slots import goes_out, planned

        asked = f"for {timeutil.local(at, site.config.schedule.zone)}" if at else "for the next free slot"
        plan = planned(store, site.config, draft_id)
        # The exact time it goes out (local, 24-hour, with the zone), as every approval says it.
        return f"Draft {draft_id} approved {asked}" + (f"; it goes out {goes_out(plan, site.config)}" if plan else "")

    return await _unless_changed(request, form, run)


async def _unless_changed(request: Request, form: FormData, run: Any) -> Response:
    """Run a caption or approve action; a draft changed since the page showed it gets a page with both texts
    (409), and nothing is saved."""
    site = site_of(request)
    try:
        line = await site.run(run)
    except ChangedMeanwhile as exc:
        return site.render(request, "changed.html", 409, draft_id=exc.draft_id, status=exc.status, theirs=exc.caption,
                           yours=_text(form, "caption"))
    return _back(request, form, line)


async def caption(request: Request, form: FormData) -> Response:
    site = site_of(request)
    draft_id = request.path_params["draft_id"]

    def run(store: Store) -> str:
        from bot.drafts.actions import check_version, choose, edit, set_alt_text

        # One transaction: the version the page showed is checked once, before either write.
        with store.tx():
            view = check_version(store, draft_id, _text(form, "version"))
            choice = caption_choice(view, form)
            alt = _text(form, "alt_text")
            said = []
            if alt is not None and alt != (view.alt_text or "").strip():
                set_alt_text(store, draft_id, alt)
                said.append("alt text saved")
            if "candidate" in choice:
                choose(store, draft_id, choice["candidate"])
                return f"Draft {draft_id}: candidate {choice['candidate']} is the caption" + "".join(
                    f"; {x}" for x in said)
            if "caption" in choice:
                edit(store, site.config, draft_id, choice["caption"])
                return f"Draft {draft_id}: caption saved" + "".join(f"; {x}" for x in said)
        return f"Draft {draft_id}: " + ("; ".join(said) if said else "caption unchanged")

    return await _unless_changed(request, form, run)


async def reject(request: Request, form: FormData) -> Response:
    site = site_of(request)
    draft_id = request.path_params["draft_id"]

    def run(store: Store) -> str:
        from bot.drafts.actions import reject as reject_draft

        reject_draft(store, draft_id, _text(form, "reason"))
        return f"Draft {draft_id} rejected"

    return _back(request, form, await site.run(run))


async def unapprove(request: Request, form: FormData) -> Response:
    """The owner's undo of an approval: the same service as 'pawpost drafts unapprove ID'."""
    draft_id = request.path_params["draft_id"]

    def run(store: Store) -> str:
        from bot.drafts.actions import unapprove as unapprove_draft

        unapprove_draft(store, draft_id, expect_version=_text(form, "version"))
        return f"Draft {draft_id} is pending again; it will not go out until you approve it"

    return await _unless_changed(request, form, run)


async def restore(request: Request, form: FormData) -> Response:
    """The owner's undo of a rejection: the same service as 'pawpost drafts restore ID'."""
    draft_id = request.path_params["draft_id"]

    def run(store: Store) -> str:
        from bot.drafts.actions import restore as restore_draft

        restore_draft(store, draft_id, expect_version=_text(form, "version"))
        return f"Draft {draft_id} is pending again (restored from rejected)"

    return await _unless_changed(request, form, run)


async def regenerate(request: Request, form: FormData) -> Response:
    """Starts the draft's regenerate in a background worker (one per draft at a time) and goes straight back: the
    card shows how far it got (`regenerate_progress`) and its result."""
    site = site_of(request)
    draft_id = request.path_params["draft_id"]
    hint, start = _text(form, "hint"), _text(form, "start")

    def check(store: Store) -> None:
        from bot.controls import refuse_controls
        from bot.drafts.lifecycle import Action, require

        require(Action.REGENERATE, store.draft(draft_id))  # a wrong id or state is said before anything starts
        refuse_controls(start or "", "start text")
        refuse_controls(hint or "", "hint")

    await site.run(check)
    start_regenerate(site, draft_id, hint=hint, start=start)
    return _back(request, form, f"Draft {draft_id}: writing new captions; the card shows how far it got",
                 anchor=f"draft-{draft_id}")


def start_regenerate(site: Any, draft_id: int, *, hint: str | None = None, start: str | None = None) -> None:
    """Regenerate draft `draft_id` in a background worker of the site (JobRunning while one runs for it)."""
    from bot.web.jobs import ReportingCaptioner

    def work(report: Any) -> str:
        from bot.drafts.regenerate import regenerate as regenerate_draft

        with Store.for_config(site.config) as store, site.using_models():
            captioner = ReportingCaptioner(site.captioner(), report)
            d = regenerate_draft(store, site.config, captioner, draft_id, hint=hint, start=start,
                                 vision=site.vision())
        return f"{len(d.candidates)} new candidate(s)" + (f" ({d.note})" if d.note else "")

    site.jobs.start(draft_id, work)


async def regenerate_progress(request: Request) -> Response:
    """How far the draft's regenerate got, for the page's poll: its job as JSON (state 'none' when it has none)."""
    from starlette.responses import JSONResponse

    draft_id = request.path_params["draft_id"]
    job = site_of(request).jobs.get(draft_id)
    return JSONResponse(job.to_json() if job else {"draft_id": draft_id, "state": "none"},
                        headers={"Cache-Control": "no-store"})


async def pets(request: Request, form: FormData) -> Response:
    """The owner's word on the pets; the caption follows them (fixed, or a note with a Regenerate button), and
    'Save pets and regenerate' writes new candidates in the same step."""
    site = site_of(request)
    draft_id = request.path_params["draft_id"]
    names = [str(n) for n in form.getlist("pet") if str(n).strip()] or ["none"]

    def run(store: Store) -> tuple[str, bool]:
        from bot.drafts.actions import correct_pets
        from bot.drafts.lifecycle import Action, can

        store.draft(draft_id)  # a wrong id is said before any model loads
        with site.using_models():
            done = correct_pets(store, site.config, site.vision(), draft_id, names)
        result, fix = done.correction, done.caption
        shown = ", ".join(p["name"] for p in result.pets) or "no pet"
        line = f"Draft {draft_id}: pets set to {shown}"
        if result.references_added:
            line += f"; {result.references_added} new reference(s) learned"
        if result.not_learned:
            line += f" (saved, but nothing was learned from it: {result.not_learned})"
        if form.get("regenerate") and can(Action.REGENERATE, store.draft(draft_id)["status"]):
            return line, True
        if fix is not None and fix.changed:
            line += "; the caption's pet names and hashtags are fixed"
        if fix is not None and fix.needs_regenerate:
            line += f"; the caption may not fit now ({fix.needs_regenerate}): Regenerate it"
        return line, False

    line, then_regenerate = await site.run(run)
    if then_regenerate:  # in the background, as the Regenerate button does
        try:
            start_regenerate(site, draft_id)
            line += "; writing new captions, the card shows how far it got"
        except PawpostError as exc:
            line += f"; {exc}"
    return _back(request, form, line, anchor=f"draft-{draft_id}" if then_regenerate else None)


async def schedule(request: Request, form: FormData) -> Response:
    site = site_of(request)
    draft_id = request.path_params["draft_id"]

    def run(store: Store) -> str:
        from bot import timeutil
        from bot.drafts.review import parse_local_time, reschedule

        at = None
        if form.get("when") != "queue":
            # A slot picked from the list wins over the free time field (which shows the current time).
            picked = _text(form, "slot") or _text(form, "at")
            if not picked:
                raise PawpostError("pick a slot or a date and time, or choose 'next free slot'")
            at = parse_local_time(picked, site.config)
        reschedule(store, site.config, draft_id, at)
        where = timeutil.local(at, site.config.schedule.zone) if at else "the next free slot"
        return f"Draft {draft_id} moved to {where}"

    return _back(request, form, await site.run(run))


async def posted(request: Request, form: FormData) -> Response:
    """The owner's 'I posted it' (notify publisher): the same service as 'pawpost drafts posted ID --url URL'."""
    site = site_of(request)
    draft_id = request.path_params["draft_id"]

    def run(store: Store) -> str:
        from bot.publish.factory import make_poster

        poster = make_poster(store, site.config)
        try:
            result = poster.confirm_posted(draft_id, _text(form, "url"))
        finally:
            poster.close()
        return f"Draft {draft_id} {result.message}"

    return _back(request, form, await site.run(run))


async def media(request: Request, form: FormData) -> Response:
    """A change to the post's photos: move one left or right, remove it, or add one the shoot offers (`op`, and
    `photo` its id); the same services as 'pawpost drafts media ID ...'. Back at the photo it was about."""
    site = site_of(request)
    draft_id = request.path_params["draft_id"]
    op, photo_id = str(form.get("op") or ""), _photo(form)

    def run(store: Store) -> str:
        from bot.drafts.editing import add_photo, move_photo, remove_photo
        from bot.drafts.media import media_of
        from bot.errors import NotInDraft

        if op in ("left", "right"):
            places = [m.photo_id for m in media_of(store, draft_id)]
            if photo_id not in places:
                raise NotInDraft(draft_id, photo_id)
            to = places.index(photo_id) + (-1 if op == "left" else 1)
            change = move_photo(store, draft_id, photo_id, to)
            what = f"photo {photo_id} moved to place {to + 1}"
        elif op == "remove":
            change = remove_photo(store, draft_id, photo_id)
            what = f"photo {photo_id} removed"
        elif op == "add":
            change = add_photo(store, draft_id, photo_id)
            what = f"photo {photo_id} added"
        else:
            raise PawpostError(f"unknown change {op!r}: move left or right, remove, or add a photo")
        return media_said(change, what)

    return _back(request, form, await site.run(run), anchor=f"photo-{draft_id}-{photo_id}")


async def split(request: Request, form: FormData) -> Response:
    """A photo out into a draft of its own, whose caption candidates are written at once by a background regenerate
    (its card shows how far it got; if the models cannot be had, it says so and waits for its Regenerate button)."""
    site = site_of(request)
    draft_id = request.path_params["draft_id"]
    photo_id = _photo(form)

    def run(store: Store) -> Any:
        from bot.drafts.editing import split_photo

        return split_photo(store, draft_id, photo_id)

    change = await site.run(run)
    said = media_said(change, f"photo {photo_id} is now draft {change.new_draft}")
    try:
        start_regenerate(site, change.new_draft)
    except PawpostError as exc:
        return _back(request, form, f"{said}. Its captions are not written yet: {exc}", anchor=f"draft-{draft_id}")
    return _back(request, form, f"{said}; its captions are being written", anchor=f"draft-{draft_id}")


def media_said(change: Any, what: str) -> str:
    """One line for the flash: what changed, and what the owner may need to do next."""
    d = change.draft
    said = f"Draft {d.id}: {what}"
    if change.unapproved:
        said += "; it is pending again, approve it once more"
    if change.caption_may_not_fit:
        said += f"; the caption may no longer fit ({change.pets_changed}): regenerate it"
    return said


def _photo(form: FormData) -> int:
    value = _text(form, "photo")
    if value is None or not value.isdigit():
        raise PawpostError("pick a photo first")
    return int(value)


async def login(request: Request) -> Response:
    """Spend a one-time login token; failures count against the client, and too many lock it out for a while."""
    site = site_of(request)
    client = client_address(request)
    wait = site.limiter.blocked(client)
    if wait:
        return too_many(request, wait)
    form = await request.form()
    token = str(form.get("token") or "")
    why = await site.run(use_login_token, token) if token else "unknown"
    if why is not None:
        site.limiter.failed(client)
        text = ("This login link has expired." if why == "expired" else
                "This login link is wrong or has already been used.")
        return site.message(request, 403, "Login refused", text,
                            "Run 'pawpost web --url' on the server for a fresh link (each one works once).")
    cookie, _ = site.sessions.issue(version=await site.run(session_version))
    response = site.redirect(request, "/", "Logged in")
    site.set_session(request, response, cookie)
    return response


async def logout(request: Request, form: FormData) -> Response:
    """Ends the session on the server too: a copy of the cookie kept elsewhere no longer works."""
    site = site_of(request)
    await site.run(end_session, request.state.session)
    response = site.redirect(request, "/", None)
    response.delete_cookie(COOKIE, path="/")
    return response
