"""The whole configuration as one pydantic-settings model: the sections, and `PAWPOST_<SECTION>__<KEY>` overrides.

Build it with `loading.load_config`; the environment overrides the file's values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_origin

from pydantic import Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from bot.config.models_section import ModelsConfig
from bot.config.paths import path_settings
from bot.config.reels import ReelsConfig
from bot.config.sections import (
    CANDIDATES_CHAT_VLM,
    CANDIDATES_SMALL_WRITER,
    ApprovalConfig,
    CaptionsConfig,
    DraftsConfig,
    GraphConfig,
    IngestConfig,
    InstagramConfig,
    NotifyConfig,
    PathsConfig,
    PetConfig,
    RetrainConfig,
    ScheduleConfig,
    WebConfig,
)

ENV_PREFIX = "PAWPOST_"


class Config(BaseSettings):
    """The whole configuration. Build it with `load_config`, not directly."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    paths: PathsConfig = PathsConfig()
    pets: list[PetConfig] = []
    captions: CaptionsConfig = CaptionsConfig()
    models: ModelsConfig = ModelsConfig()
    approval: ApprovalConfig = ApprovalConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    instagram: InstagramConfig = InstagramConfig()
    graph: GraphConfig = GraphConfig()
    ingest: IngestConfig = IngestConfig()
    drafts: DraftsConfig = DraftsConfig()
    reels: ReelsConfig = ReelsConfig()
    retrain: RetrainConfig = RetrainConfig()
    web: WebConfig = WebConfig()
    notify: NotifyConfig = NotifyConfig()

    # Where the file was read from; relative paths in it were resolved against its folder.
    source: Path | None = Field(default=None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init kwargs; the environment overrides them.
        return (_EnvSource(settings_cls), init_settings)

    @model_validator(mode="after")
    def _candidates_by_model(self) -> Config:
        """captions.candidates left unset: the default for the caption model in use (sections.CANDIDATES_*)."""
        if self.captions.candidates is None:
            # A server writer behind the local describer is a writer too.
            m = self.models
            n = CANDIDATES_SMALL_WRITER if m.two_stage or m.server_writes_after_describer else CANDIDATES_CHAT_VLM
            self.captions = self.captions.model_copy(update={"candidates": n})
        return self

    @field_validator("pets")
    @classmethod
    def _unique_pets(cls, pets: list[PetConfig]) -> list[PetConfig]:
        seen: set[str] = set()
        for pet in pets:
            if pet.name.lower() in seen:
                raise ValueError(f"two pets are named {pet.name!r}; pet names must be unique")
            seen.add(pet.name.lower())
        return pets

    def pet(self, name: str) -> PetConfig | None:
        return next((p for p in self.pets if p.name.lower() == name.lower()), None)

    @property
    def session_file(self) -> Path:
        return self.instagram.session_file or self.paths.data / "instagram-session.json"

    @property
    def graph_token_file(self) -> Path:
        return self.graph.access_token_file or self.paths.data / "graph-token.json"

    def owned_paths(self) -> list[tuple[str, Path]]:
        """What pawpost reads or writes besides the inbox: the config file and every path-valued setting (found by
        walking the settings, so a new one is covered), each with the key that names it. The inbox must never
        hold one of them: ingest takes every file away."""
        owned = [("the config file", self.source)] if self.source else []
        owned += [(s.label, s.path) for s in path_settings(self) if s.key != "paths.inbox"]
        return owned

    def owns(self, path: Path) -> str | None:
        """What of pawpost's own `path` is (or lies in), or None: a file there must never be ingested."""
        path = path.absolute().parent.resolve() / path.name  # the file itself, never what a link points at
        for what, mine in self.owned_paths():
            mine = mine.resolve()
            if path == mine or path.is_relative_to(mine):
                return what
        return None


class _EnvSource(EnvSettingsSource):
    """The environment, where a list may also be written as people type it: `09:30,19:00` or `#a, #b`."""

    def decode_complex_value(self, field_name: str, field: FieldInfo | None, value: Any) -> Any:
        try:
            return super().decode_complex_value(field_name, field, value)
        except ValueError:
            if field is None or get_origin(field.annotation) is not list or not isinstance(value, str):
                raise
            return [item.strip() for item in value.split(",") if item.strip()]
