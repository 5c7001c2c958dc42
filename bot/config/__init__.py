"""Typed configuration: the TOML file, `PAWPOST_<SECTION>__<KEY>` overrides, and their validation.

Everything else reads settings from a `Config` built here; a bad value stops start-up with one line.
`sections` (and `models_section`) hold each section's keys, `settings` the whole `Config`, `loading` how the
file is found and read, `refusals` the one-line messages for what is wrong.
"""

from __future__ import annotations

from bot.config.loading import CONFIG_ENV, find_config_path, load_config, starter_text, user_config_path
from bot.config.models_section import ModelsConfig
from bot.config.refusals import describe_validation_error
from bot.config.sections import (
    CANDIDATES_CHAT_VLM,
    CANDIDATES_SMALL_WRITER,
    PROXY_SCHEMES,
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
    Section,
    ThemesConfig,
    WebConfig,
)
from bot.config.settings import ENV_PREFIX, Config

__all__ = [
    "CANDIDATES_CHAT_VLM",
    "CANDIDATES_SMALL_WRITER",
    "CONFIG_ENV",
    "ENV_PREFIX",
    "PROXY_SCHEMES",
    "ApprovalConfig",
    "CaptionsConfig",
    "Config",
    "DraftsConfig",
    "GraphConfig",
    "IngestConfig",
    "InstagramConfig",
    "ModelsConfig",
    "NotifyConfig",
    "PathsConfig",
    "PetConfig",
    "RetrainConfig",
    "ScheduleConfig",
    "Section",
    "ThemesConfig",
    "WebConfig",
    "describe_validation_error",
    "find_config_path",
    "load_config",
    "starter_text",
    "user_config_path",
]
