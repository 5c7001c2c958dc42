"""The official API's staged media (photos, a Reel's video and cover), served under staging.MOUNT for the minutes a
media container needs them.

No login and no Host check: Instagram fetches them through the owner's reverse proxy or tunnel, and the path itself
is the secret (a one-time 256-bit token, see bot.publish.staging.resolve). Anything else is a bare 404.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from bot.publish.staging import content_type, resolve


async def photo(request: Request) -> Response:
    config = request.app.state.site.config
    path = resolve(config, "/" + request.path_params["name"])
    if path is None:
        return _missing()
    try:
        # Opened now: the open file stays readable even if the publish unstages it while it is being sent.
        handle = await run_in_threadpool(path.open, "rb")
    except OSError:  # unstaged between the look-up and the open: the publish is over
        return _missing()
    size = os.fstat(handle.fileno()).st_size
    return StreamingResponse(_chunks(handle), media_type=content_type(path),
                             headers={"Cache-Control": "no-store", "Content-Length": str(size)})


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    """A staged file in pieces (a video need not be in memory whole), closed when sent or abandoned."""
    with handle:
        while chunk := handle.read(1 << 20):
            yield chunk


def _missing() -> Response:
    return PlainTextResponse("Not found", status_code=404, headers={"Cache-Control": "no-store"})
