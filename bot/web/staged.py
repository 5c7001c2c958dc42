"""The official API's staged photos and Reels, served under staging.MOUNT for the minutes a media container needs them.

No login and no Host check: Instagram fetches them through the owner's reverse proxy or tunnel, and the path itself
is the secret (a one-time 256-bit token, see bot.publish.staging.resolve). Anything else is a bare 404.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from bot.publish.staging import content_type, resolve


async def photo(request: Request) -> Response:
    config = request.app.state.site.config
    path = resolve(config, "/" + request.path_params["name"])
    if path is None:
        return _missing()
    if path.suffix == ".mp4":  # a Reel: sent in pieces, and in ranges when asked (the file is kept until unstaged)
        return FileResponse(path, media_type=content_type(path), headers={"Cache-Control": "no-store"})
    try:
        data = await run_in_threadpool(path.read_bytes)
    except OSError:  # unstaged between the look-up and the read: the publish is over
        return _missing()
    return Response(data, media_type=content_type(path), headers={"Cache-Control": "no-store"})


def _missing() -> Response:
    return PlainTextResponse("Not found", status_code=404, headers={"Cache-Control": "no-store"})
