"""Typed configuration: the TOML file, `PAWPOST_<SECTION>__<KEY>` overrides, and their validation.

Everything else reads settings from a `Config` built here; a bad value stops start-up with one line.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.errors import ConfigError

ENV_PREFIX = "PAWPOST_"
CONFIG_ENV = "PAWPOST_CONFIG"


class Section(BaseModel):
    # Unknown keys are errors: a typo in a key must never be silently ignored.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PathsConfig(Section):
    inbox: Path = Path("photos/inbox")
    data: Path = Path("data")

    # Derived folders under `data`; not configurable on their own so a backup is one folder.
    @property
    def library(self) -> Path:
        return self.data / "library"

    @property
    def quarantine(self) -> Path:
        return self.data / "quarantine"

    @property
    def outbox(self) -> Path:
        return self.data / "outbox"

    @property
    def models(self) -> Path:
        return self.data / "models"

    @property
    def database(self) -> Path:
        return self.data / "pawpost.db"

    @property
    def gpu_lock(self) -> Path:
        return self.data / "gpu.lock"


class PetConfig(Section):
    name: Annotated[str, Field(min_length=1, max_length=60)]
    species: Annotated[str, Field(min_length=1)] = "dog"
    description: str = ""
    personality: str = ""
    hashtags: list[str] = []
    photos: Path | None = None

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, tags: list[str]) -> list[str]:
        return [_hashtag(t) for t in tags]


class ThemesConfig(Section):
    # weekday names (monday..sunday), dates as MM-DD, seasons (spring/summer/autumn/winter).
    weekday: dict[str, str] = {}
    date: dict[str, str] = {}
    season: dict[str, str] = {}

    @field_validator("weekday")
    @classmethod
    def _weekdays(cls, value: dict[str, str]) -> dict[str, str]:
        days = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
        bad = [k for k in value if k.lower() not in days]
        if bad:
            raise ValueError(f"unknown weekday {bad[0]!r}; use monday..sunday")
        return {k.lower(): v for k, v in value.items()}

    @field_validator("date")
    @classmethod
    def _dates(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.fullmatch(r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", key):
                raise ValueError(f"date {key!r} must be MM-DD, e.g. '12-25'")
        return value

    @field_validator("season")
    @classmethod
    def _seasons(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [k for k in value if k.lower() not in {"spring", "summer", "autumn", "winter"}]
        if bad:
            raise ValueError(f"unknown season {bad[0]!r}; use spring, summer, autumn or winter")
        return {k.lower(): v for k, v in value.items()}


class CaptionsConfig(Section):
    voice: str = "playful, first person as the pet, one or two emojis"
    hashtags: list[str] = []
    mentions: list[str] = []  # @accounts a generated caption may mention; any other @mention is refused
    max_hashtags: Annotated[int, Field(ge=0, le=30)] = 5
    candidates: Annotated[int, Field(ge=1, le=16)] = 4
    max_new_tokens: Annotated[int, Field(ge=8, le=512)] = 60
    temperature: Annotated[float, Field(gt=0, le=2)] = 0.7
    top_p: Annotated[float, Field(gt=0, le=1)] = 0.9
    repetition_penalty: Annotated[float, Field(ge=1, le=2)] = 1.15
    no_repeat_ngram_size: Annotated[int, Field(ge=0, le=10)] = 3
    style_examples: Annotated[int, Field(ge=0, le=10)] = 2
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    seed: int | None = None
    themes: ThemesConfig = ThemesConfig()

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, tags: list[str]) -> list[str]:
        return [_hashtag(t) for t in tags]

    @field_validator("mentions")
    @classmethod
    def _mentions(cls, names: list[str]) -> list[str]:
        out = []
        for name in names:
            handle = "@" + name.strip().lstrip("@")
            if not re.fullmatch(r"@[\w.]+", handle):
                raise ValueError(f"{name!r} is not an Instagram username (letters, digits, _ and . only)")
            out.append(handle)
        return out


class ModelsConfig(Section):
    device: str = "auto"
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    idle_unload_minutes: Annotated[float, Field(ge=0)] = 10
    detector: str = "google/owlv2-base-patch16-ensemble"
    embedder: str = "facebook/dinov2-small"
    captioner: str = "HuggingFaceTB/SmolVLM2-2.2B-Instruct"
    describer: str | None = None
    writer: str | None = None
    detection_threshold: Annotated[float, Field(ge=0, le=1)] = 0.2
    match_threshold: Annotated[float, Field(ge=-1, le=1)] = 0.6
    batch_size: Annotated[int, Field(ge=1, le=256)] = 8

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", value):
            raise ValueError("must be auto, cpu, cuda, cuda:N or mps")
        return value

    @model_validator(mode="after")
    def _two_stage(self) -> ModelsConfig:
        if bool(self.describer) != bool(self.writer):
            raise ValueError("describer and writer must be set together (or neither, to use captioner)")
        return self

    @property
    def two_stage(self) -> bool:
        return bool(self.describer and self.writer)


class ApprovalConfig(Section):
    mode: Literal["manual", "auto", "confident"] = "manual"
    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.8


class ScheduleConfig(Section):
    timezone: str = "UTC"
    slots: list[str] = ["09:30", "19:00"]
    jitter_minutes: Annotated[int, Field(ge=0, le=120)] = 10
    max_posts_per_day: Annotated[int, Field(ge=0, le=25)] = 2
    catch_up_minutes: Annotated[int, Field(ge=0, le=24 * 60)] = 60

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. 'Europe/Madrid')") from None
        return value

    @field_validator("slots")
    @classmethod
    def _slots(cls, value: list[str]) -> list[str]:
        for slot in value:
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", slot):
                raise ValueError(f"slot {slot!r} must be HH:MM in 24-hour time, e.g. '19:00'")
        return sorted(set(value))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class InstagramConfig(Section):
    publisher: Literal["dry-run", "instagrapi"] = "dry-run"
    username: str = ""
    password: SecretStr | None = None
    password_file: Path | None = None
    totp_seed: SecretStr | None = None
    totp_seed_file: Path | None = None
    session_file: Path | None = None
    proxy: SecretStr | None = None
    hashtags_in_first_comment: bool = False
    cooldown_hours: Annotated[float, Field(ge=0.1, le=24 * 14)] = 12
    request_timeout: Annotated[float, Field(ge=1, le=600)] = 60

    @field_validator("password_file", "totp_seed_file", "session_file", "password", "totp_seed", "proxy",
                     mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _account(self) -> InstagramConfig:
        if self.publisher == "instagrapi" and not self.username:
            raise ValueError("username is required when publisher = 'instagrapi'")
        return self

    def secret_password(self) -> str | None:
        return _secret(self.password, self.password_file, "instagram.password_file")

    def secret_totp_seed(self) -> str | None:
        return _secret(self.totp_seed, self.totp_seed_file, "instagram.totp_seed_file")


class IngestConfig(Section):
    stable_seconds: Annotated[float, Field(ge=0, le=600)] = 2.0
    rescan_minutes: Annotated[float, Field(ge=0, le=24 * 60)] = 5
    polling: bool = False
    max_file_mb: Annotated[float, Field(gt=0, le=2048)] = 100
    max_megapixels: Annotated[float, Field(gt=0, le=1000)] = 120
    near_duplicate_distance: Annotated[int, Field(ge=0, le=64)] = 4


class RetrainConfig(Section):
    min_new_posts: Annotated[int, Field(ge=0)] = 20
    holdout_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.15
    primary_metric: Literal["cider", "bleu", "rouge_l"] = "cider"
    min_improvement: Annotated[float, Field(ge=0)] = 0.01
    epochs: Annotated[int, Field(ge=1, le=100)] = 3
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 2e-4
    lora_rank: Annotated[int, Field(ge=1, le=256)] = 8
    batch_size: Annotated[int, Field(ge=1, le=256)] = 8


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
    ingest: IngestConfig = IngestConfig()
    retrain: RetrainConfig = RetrainConfig()

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
        return (env_settings, init_settings)

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


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file by the contract's order: --config, $PAWPOST_CONFIG, ./pawpost.toml, ~/.config."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist (given with --config)")
        return path
    env = os.environ.get(CONFIG_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist (given by ${CONFIG_ENV})")
        return path
    for path in (Path("pawpost.toml"), Path("~/.config/pawpost/config.toml").expanduser()):
        if path.is_file():
            return path
    raise ConfigError(
        "no config file found: pass --config PATH, set $PAWPOST_CONFIG, or run 'pawpost init' to create one"
    )


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read, override from the environment, validate and resolve paths; raise ConfigError on any problem."""
    file = find_config_path(path).resolve()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read: {exc}") from None
    _check_env_sections()
    try:
        config = Config(**data)
    except ValidationError as exc:
        raise ConfigError(f"{_source_of(exc, file)}: {describe_validation_error(exc)}") from None
    return _resolve_paths(config, file)


def _check_env_sections() -> None:
    """A PAWPOST_<SECTION>__<KEY> variable for a section that does not exist is a typo: say so."""
    sections = set(Config.model_fields) - {"source"}
    for name in os.environ:
        if name.upper().startswith(ENV_PREFIX) and "__" in name:
            section = name[len(ENV_PREFIX):].split("__", 1)[0].lower()
            if section not in sections:
                raise ConfigError(f"${name}: there is no config section {section!r} "
                                  f"(sections: {', '.join(sorted(sections))})")


def _source_of(exc: ValidationError, file: Path) -> str:
    """Where the wrong value came from: the environment variable that overrides the key, else the file."""
    loc = [str(p) for p in exc.errors()[0]["loc"]]
    for depth in range(len(loc), 0, -1):
        name = ENV_PREFIX + "__".join(loc[:depth]).upper()
        if any(key.upper() == name for key in os.environ):
            return f"${name}"
    return str(file)


def _resolve_paths(config: Config, file: Path) -> Config:
    base = file.parent

    def resolve(p: Path | None) -> Path | None:
        if p is None:
            return None
        p = p.expanduser()
        return p if p.is_absolute() else (base / p).resolve()

    config.paths.inbox = resolve(config.paths.inbox)
    config.paths.data = resolve(config.paths.data)
    for pet in config.pets:
        pet.photos = resolve(pet.photos)
    ig = config.instagram
    ig.password_file = resolve(ig.password_file)
    ig.totp_seed_file = resolve(ig.totp_seed_file)
    ig.session_file = resolve(ig.session_file)
    models = config.models
    for key in ("detector", "embedder", "captioner", "describer", "writer"):
        value = getattr(models, key)
        # A model value is a hub id unless it names an existing folder (relative to the config file).
        if value and (value.startswith((".", "/", "~")) or (base / value).is_dir()):
            setattr(models, key, str(resolve(Path(value))))
    config.source = file
    return config


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming the first wrong key and what is expected."""
    err = exc.errors()[0]
    loc = re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", ".".join(str(p) for p in err["loc"]))
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{loc}: unknown key (check the spelling; see config.example.toml for every key)"
    if kind == "missing":
        return f"{loc}: required key is missing"
    msg = err["msg"]
    msg = msg.removeprefix("Value error, ")
    given = err.get("input")
    if given is not None and not isinstance(given, dict | list) and not _is_secret(loc):
        return f"{loc}: {msg} (got {given!r})"
    return f"{loc}: {msg}"


def _is_secret(loc: str) -> bool:
    """Whether the value at `loc` is a secret, which no message may echo."""
    return any(word in loc.lower() for word in ("password", "secret", "totp", "seed", "proxy", "token"))


def _hashtag(tag: str) -> str:
    tag = tag.strip()
    if not tag.startswith("#"):
        tag = "#" + tag
    if not re.fullmatch(r"#\w+", tag):
        raise ValueError(f"{tag!r} is not a hashtag (letters, digits and _ only)")
    return tag


def _secret(value: SecretStr | None, file: Path | None, key: str) -> str | None:
    if value is not None and value.get_secret_value():
        return value.get_secret_value()
    if file is None:
        return None
    try:
        return file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {file}: {exc.strerror}") from None


def starter_text() -> str:
    """The starter config `pawpost init` writes: the repository's config.example.toml, shipped in the package."""
    from importlib import resources

    return resources.files("bot").joinpath("starter.toml").read_text(encoding="utf-8")
