"""`pawpost doctor` lines for an inference server that writes captions: does it answer, does it list
models.server_model, and does that model take images (a plain red photo, asked for its colour).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

from bot.captions.server_client import ServerClient
from bot.check import Check
from bot.config import Config
from bot.errors import PawpostError, ServerUnavailable

PROBE_TIMEOUT = 20.0  # seconds: the doctor must not hang on a server that does not answer
PROBE_QUESTION = "What colour is this picture? Answer with one word."


def server_checks(config: Config, client: ServerClient | None = None) -> Iterator[Check]:
    m = config.models
    try:
        client = client or ServerClient(m.server, m.server_model, api_key=m.server_api_key(),
                                        timeout=min(PROBE_TIMEOUT, m.server_timeout_seconds), retries=0)
    except PawpostError as exc:  # an unreadable api key file
        yield Check("caption server", False, str(exc))
        return
    try:
        ids = client.model_ids()
    except ServerUnavailable as exc:
        yield Check("caption server", False, f"{m.server} does not answer: {exc.reason}; photos wait for it "
                    "(deferred, never failed) until it does")
        return
    yield Check("caption server", True, f"{m.server} answers ({len(ids)} model(s) listed)")
    if m.server_model not in ids:
        listed = ", ".join(repr(i) for i in ids[:8]) or "none"
        yield Check("caption server model", False, f"{m.server} has no model {m.server_model!r} (it lists: "
                    f"{listed}); pull or load it there, or fix models.server_model")
        return
    yield Check("caption server model", True, f"{m.server_model} is listed by the server ({m.server_role})")
    yield _image_check(config, client)


def _image_check(config: Config, client: ServerClient) -> Check:
    needed = config.models.server_role == "captioner"
    name = "caption server images"
    try:
        choices = client.chat([{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": _red_square()}},
            {"type": "text", "text": PROBE_QUESTION}]}], n=1, temperature=0.0, top_p=1.0, max_tokens=8, seed=0)
    except ServerUnavailable as exc:
        if needed:
            return Check(name, False, f"the server refused a photo ({exc.reason}); server_role = \"captioner\" needs a "
                         "model that takes images, or use server_role = \"writer\" behind the local describer")
        return Check(name, True, f"the model does not take photos ({exc.reason}); not needed as the writer")
    answer = " ".join((choices[0].text if choices else "").split())[:40]
    if "red" in answer.lower():
        return Check(name, True, f"the model sees photos (asked the colour of a red one: {answer!r})")
    message = (f"the server took a photo, but the model's answer to its colour ({answer!r}) does not show it saw "
               "it; it may be a text-only model")
    if needed:
        return Check(name, True, message + ": captions would not be about the photo", warning=True)
    return Check(name, True, message + "; not needed as the writer")


def _red_square() -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (220, 20, 20)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
