"""The [models] keys of an OpenAI-compatible inference server that writes the captions (Ollama, llama.cpp's server,
vLLM, LM Studio, TGI): where it is, which model, its role, and how long to wait for it.

`ModelsConfig` (bot.config.sections) takes these keys as its own, so they are written flat under [models].
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from bot.config.values import read_secret

SERVER_ROLES = ("captioner", "writer")


class CaptionServerKeys(BaseModel):
    # The server's OpenAI-compatible base URL, ending in /v1 (unset: the caption models run in this process).
    server: str | None = None
    server_model: str = ""  # the model's name as the server lists it (/v1/models)
    # captioner: the photo and the prompt go to a chat model that takes images; writer: the local describer says
    # what the photo shows and the server's text model writes the caption from that.
    server_role: Literal["captioner", "writer"] = "captioner"
    server_api_key_file: Path | None = None  # a file holding the bearer token, for servers that want one
    server_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 60  # one answer, at most
    server_retries: Annotated[int, Field(ge=0, le=10)] = 2  # tries again after a timeout, a 5xx or no connection
    # A photo waiting for the server is tried again after this long, doubling up to 10 minutes per try.
    server_retry_seconds: Annotated[float, Field(gt=0, le=3600)] = 30

    @field_validator("server", "server_api_key_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("server")
    @classmethod
    def _server_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError("must be the server's http:// or https:// base URL, e.g. 'http://gpu-box:11434/v1'")
        return value

    @property
    def uses_server(self) -> bool:
        return bool(self.server)

    @property
    def server_writes_after_describer(self) -> bool:
        """The server is the writer behind the local describer (server_role = "writer")."""
        return self.uses_server and self.server_role == "writer"

    def server_problem(self, describer: str | None, writer: str | None) -> str | None:
        """Why the server keys do not fit the other [models] keys, or None."""
        if not self.uses_server:
            return None
        if not self.server_model.strip():
            return "server_model must name the server's model (as its /v1/models lists it) when server is set"
        if self.server_role == "writer" and not describer:
            return ('server_role = "writer" needs describer (the local model that says what the photo shows); '
                    'or use server_role = "captioner" with a model that takes images')
        if self.server_role == "captioner" and (describer or writer):
            return ('server_role = "captioner" sends the photo to the server, so describer and writer are unused; '
                    'remove them, or use server_role = "writer"')
        return None

    def server_api_key(self) -> str | None:
        """The bearer token from server_api_key_file (None: the server wants none)."""
        return read_secret(None, self.server_api_key_file, "models.server_api_key_file") or None
