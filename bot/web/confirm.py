"""The "I posted it" link's page and action: the notify publisher's message carries a single-use link to a draft,
which the owner opens on the phone, without logging in, to confirm the post made by hand.

The link itself is the credential, and only for that draft's confirmation (bot.publish.confirm_links): it opens no
session. Opening it changes nothing (a messenger's link preview fetches it too); the page's button spends it.
Refused tokens count against the client like failed logins.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bot.errors import LinkRefused, PawpostError
from bot.store.database import Store
from bot.web.app import site_of
from bot.web.pages import client_address, too_many

STATUS = {"unknown": 403, "other draft": 403, "expired": 410, "done": 409}


def _purpose(draft_id: int, token: str) -> str:
    return f"confirm|{draft_id}|{token}"


def _refused(request: Request, exc: LinkRefused) -> Response:
    site = site_of(request)
    if STATUS.get(exc.why, 403) == 403:
        site.limiter.failed(client_address(request))
    return site.message(request, STATUS.get(exc.why, 403), "This link cannot confirm the post", str(exc),
                        "Your draft's page on the review site has an 'I posted it' button too.")


def _guard(request: Request) -> Response | None:
    """The site's host check and the failed-login limit, as every page of the site has them."""
    site = site_of(request)
    if not site.host_ok(request):
        return site.message(request, 400, "Unknown host name", "Open the review site by its own address.")
    wait = site.limiter.blocked(client_address(request))
    return too_many(request, wait) if wait else None


async def confirm_form(request: Request) -> Response:
    """The link's landing page: what is confirmed, the post's link (optional) and the button."""
    from bot.publish import confirm_links

    site = site_of(request)
    refused = _guard(request)
    if refused is not None:
        return refused
    draft_id = request.path_params["draft_id"]
    token = request.query_params.get("token", "")

    def look(store: Store) -> str:
        confirm_links.check(store, draft_id, token)
        caption = store.draft(draft_id)["caption"] or ""
        return caption.strip().splitlines()[0] if caption.strip() else ""

    try:
        first_line = await site.run(look)
    except LinkRefused as exc:
        return _refused(request, exc)
    return site.render(request, "confirm.html", draft_id=draft_id, token=token, first_line=first_line,
                       form_token=site.sessions.form_token(_purpose(draft_id, token)),
                       days=confirm_links.CONFIRM_LINK_DAYS)


async def confirm(request: Request) -> Response:
    """Spend the link: the draft is posted on the owner's word (the same service as 'pawpost drafts posted')."""
    from bot.publish import confirm_links

    site = site_of(request)
    refused = _guard(request)
    if refused is not None:
        return refused
    draft_id = request.path_params["draft_id"]
    form = await request.form()
    token, url = str(form.get("token") or ""), str(form.get("url") or "").strip()
    if not site.sessions.check_form_token(_purpose(draft_id, token), str(form.get("csrf") or "")):
        return site.message(request, 403, "This form was refused",
                            "It did not come from this site's 'I posted it' page, so nothing was changed.",
                            "Open the link from the message again.")

    def run(store: Store) -> str:
        from bot.publish.factory import make_poster

        poster = make_poster(store, site.config)
        try:
            return confirm_links.confirm_by_link(poster, draft_id, token, url or None).message
        finally:
            poster.close()

    try:
        said = await site.run(run)
    except LinkRefused as exc:
        return _refused(request, exc)
    except PawpostError as exc:
        return site.message(request, 409, "That cannot be done", str(exc), "Check the link and try again.")
    return site.message(request, 200, "Thank you", f"Draft {draft_id} is {said}.")
