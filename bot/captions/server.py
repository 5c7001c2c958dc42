"""The caption backend on an OpenAI-compatible inference server: the same prompts, candidates, seeds and rounds as
the local models (bot.captions.backends), sent as chat completions, as the chat VLM or as the describer's writer.

`ServerModel` is a `ManagedModel` whose "load" is asking the server whether it has the model: a server that is
down or lacks it is a ServerUnavailable (a ModelUnavailable), so the caption stage defers the photos with the
reason, exactly as for a local model that cannot load, and tries again later.
"""

from __future__ import annotations

import base64
import io
import logging
import time
from typing import Any

from bot.captions.generate import GenerationSettings
from bot.captions.prompt import Prompt
from bot.captions.rules import Generated
from bot.captions.server_client import ServerClient
from bot.errors import ServerUnavailable
from bot.runtime.ml import ManagedModel, Runtime

log = logging.getLogger(__name__)

JPEG_QUALITY = 90
# The caption's first words (the owner's --start, or the pet's lead, templates.LEADS_AS_PET), asked for in the
# instruction: a server's answer cannot be primed with them as a local model's is.
BEGIN_WITH = "Begin the caption with \"{opening}\"."


class ServerModel(ManagedModel):
    """models.server_model on models.server, writing `settings.candidates` candidates per prompt.

    As "captioner" each request carries the photo (a data: URL, longest side models.caption_image_px); as
    "writer" it carries the prompt alone, with the local describer's words in it.
    """

    key = "server"
    weights = ()

    def __init__(self, models: Any, runtime: Runtime, client: ServerClient | None = None) -> None:
        super().__init__(models.server_model, runtime)
        self.role = models.server_role
        self.url = models.server
        self.client = client or ServerClient.from_config(models)
        self.retry_seconds = models.server_retry_seconds

    @property
    def sees_photo(self) -> bool:
        return self.role == "captioner"

    def load(self) -> None:
        """Ask the server for its model list (no weights here): ServerUnavailable when it is down or lacks the model.
        Once it answered, requests go straight on; a failed request makes the next batch ask again."""
        with self._lock:
            if self.loaded:
                return
            started = time.monotonic()
            try:
                self.client.check_model()
            except ServerUnavailable as exc:
                exc.retry_seconds = self.retry_seconds
                raise
            self.loaded = True
            self.last_used = time.monotonic()
            log.info("caption server %s has models.server_model %s (%s, %.1fs)", self.url, self.model_id,
                     self.role, time.monotonic() - started)

    def unload(self) -> None:
        with self._lock:
            self.loaded = False

    def _drop(self) -> None:
        pass  # nothing is held here but the connection pool, which the next batch reuses

    def write(self, images: list[list[Any]], prompts: list[Prompt], settings: GenerationSettings,
              seed: int) -> list[list[str]]:
        """`settings.candidates` raw candidates per prompt; `images` are each prompt's photos in post order, of which
        the captioner sends the first `Prompt.images` (a writer sends none: the describer's words are in the prompt)."""
        out = []
        with self.use():
            try:
                for n, prompt in enumerate(prompts):
                    shown = list(images[n])[:prompt.images] if self.sees_photo else []
                    out.append(self._candidates(prompt, shown, settings, seed + 7919 * n))
            except ServerUnavailable as exc:
                self.loaded = False  # the next batch asks the server again before writing
                exc.retry_seconds = self.retry_seconds
                raise
        return out

    def _candidates(self, prompt: Prompt, shown: list[Any], settings: GenerationSettings, seed: int) -> list[str]:
        """The `n` parameter asks for every candidate at once; a server that ignores it (llama.cpp, Ollama) returns
        one, and the rest are asked for with the next seeds, so the count is the same as with a local model."""
        messages = chat_messages(prompt, [self._image_url(image) for image in shown])
        found: list[str] = []
        for request in range(settings.candidates):
            if len(found) >= settings.candidates:
                break
            choices = self.client.chat(messages, n=settings.candidates - len(found), temperature=settings.temperature,
                                       top_p=settings.top_p, max_tokens=settings.max_new_tokens,
                                       stop=list(settings.stop_strings) or None, seed=seed + request)
            if not choices:
                raise ServerUnavailable(self.url, self.model_id, "it answered with no caption at all")
            found += [_with_opening(prompt, c.text, c.cut_off) for c in choices]
        return found[:settings.candidates]

    def _image_url(self, image: Any) -> str:
        photo = image.convert("RGB")
        longest = self.runtime.caption_image_px
        if longest and max(photo.size) > longest:
            photo = photo.copy()
            photo.thumbnail((longest, longest))
        buffer = io.BytesIO()
        photo.save(buffer, format="JPEG", quality=JPEG_QUALITY)
        return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

    def special_tokens(self) -> list[str]:
        return []  # the server decodes its own special tokens away


def chat_messages(prompt: Prompt, image_urls: list[str]) -> list[dict[str, Any]]:
    """The prompt as OpenAI chat messages, the photos (if any) before the text in post order. A server cannot be
    primed with the caption's first words (the answer starts fresh), so they are asked for in the instruction."""
    user = prompt.user
    if prompt.opening:
        user += " " + BEGIN_WITH.format(opening=prompt.opening)
    content: Any = user
    if image_urls:
        content = [*({"type": "image_url", "image_url": {"url": url}} for url in image_urls),
                   {"type": "text", "text": user}]
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": content}]


def _with_opening(prompt: Prompt, text: str, cut_off: bool) -> str:
    """The answer as a caption; the owner's own first words (`--start`) are kept even when the model left them out."""
    text = " ".join(text.split())
    start = prompt.start
    if start and not text.lower().startswith(start.lower()):
        text = f"{start} {text}"
    return Generated(text, cut_off=cut_off)
