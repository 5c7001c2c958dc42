"""The config file's sections, one typed model each: defaults, bounds and per-key validation.

A wrong value in a section is refused here with the key's own sentence; `settings.Config` holds them all.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, SecretStr, field_validator

from bot.config.values import config_text, hashtag, read_secret
from bot.limits import MAX_CAROUSEL_ITEMS, MAX_HASHTAGS


class Section(BaseModel):
    # Unknown keys are errors: a typo in a key must never be silently ignored.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        return config_text(value)  # names, the voice, hashtags reach prompts, captions and the terminal


class PathsConfig(Section):
    inbox: Path = Path("photos/inbox")
    data: Path = Path("data")
    # A home folder, or one holding dot-files pawpost did not make, is refused as the inbox unless this is set.
    allow_any_inbox: bool = False

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
        return [hashtag(t) for t in tags]


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


# The default number of caption candidates, per caption model (the sampling sweep in benchmarks/RESULTS.md): a small
# text writer (the describer + writer pair, SmolLM2-135M/360M) needs 8 for the ranking to find one that says what
# the photo shows (4: 0.56 of scenes, 8: 0.74 with the real 135M writer), and 8 cost it 1.5 s more a photo on a CPU;
# a chat VLM (SmolVLM2-2.2B) keeps 4: each candidate holds its own KV cache on the GPU (8 would halve its caption
# batch; see README "GPU memory"), and its quality could not be measured here (no real VLM weights offline).
CANDIDATES_SMALL_WRITER = 8
CANDIDATES_CHAT_VLM = 4


class CaptionsConfig(Section):
    voice: str = "playful, first person as the pet, one or two emojis"
    hashtags: list[str] = []
    mentions: list[str] = []  # @accounts a generated caption may mention; any other @mention is refused
    max_hashtags: Annotated[int, Field(ge=0, le=MAX_HASHTAGS)] = MAX_HASHTAGS  # Instagram's limit is the ceiling
    # Candidates per photo, written in one batched call. Unset: by the caption model's size (Config resolves it to
    # CANDIDATES_SMALL_WRITER or CANDIDATES_CHAT_VLM), so code always reads an int.
    candidates: Annotated[int, Field(ge=1, le=16)] | None = None
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
        return [hashtag(t) for t in tags]

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

    @field_validator("jitter_minutes", "max_posts_per_day", "catch_up_minutes", mode="before")
    @classmethod
    def _not_a_flag(cls, value: object) -> object:
        # TOML's `true` would otherwise pass as the number 1: a number of minutes or posts is meant.
        if isinstance(value, bool):
            raise ValueError(f"must be a whole number, not {str(value).lower()}")
        return value

    @field_validator("slots")
    @classmethod
    def _slots(cls, value: list[str]) -> list[str]:
        for slot in value:
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", slot):
                raise ValueError(f"slot {slot!r} must be HH:MM in 24-hour time, e.g. '19:00'")
        twice = sorted({slot for slot in value if value.count(slot) > 1})
        if twice:
            # Two equal slots are one slot: a typo for another time, most likely.
            raise ValueError(f"slot {twice[0]!r} is listed twice; each slot is one posting time")
        return sorted(value)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# The proxy schemes the HTTP client (requests, with PySocks for socks) understands.
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h", "socks4", "socks4a")


class InstagramConfig(Section):
    # Which publisher posts, by its name in bot.publish.publishers.registry, which also refuses an unknown name
    # and what the chosen one lacks (the config cannot know the publishers: it is the layer below them).
    publisher: str = "dry-run"
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
    reel_wait_seconds: Annotated[float, Field(ge=0, le=3600)] = 300  # a Reel's transcode, before configure

    @field_validator("password_file", "totp_seed_file", "session_file", "password", "totp_seed", "proxy",
                     mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("proxy")
    @classmethod
    def _proxy_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        # The URL may hold a password: the message names the scheme only.
        if value is not None:
            scheme = value.get_secret_value().partition("://")[0].lower() if "://" in value.get_secret_value() else ""
            if scheme not in PROXY_SCHEMES:
                shown = f"scheme {scheme!r}" if scheme else "a URL without a scheme"
                raise ValueError(f"{shown} is not a proxy pawpost can use; write it as "
                                 f"{', '.join(s + '://' for s in PROXY_SCHEMES)}host:port")
        return value

    def secret_password(self) -> str | None:
        return read_secret(self.password, self.password_file, "instagram.password_file")

    def secret_totp_seed(self) -> str | None:
        return read_secret(self.totp_seed, self.totp_seed_file, "instagram.totp_seed_file")


class GraphConfig(Section):
    """The official Instagram API's publisher: token, app secret, and where Instagram fetches photos."""

    access_token_file: Path | None = None  # default data/graph-token.json, mode 0600
    app_secret: SecretStr | None = None
    app_secret_file: Path | None = None
    public_base_url: str = ""
    api_version: Annotated[str, Field(pattern=r"^v\d+\.\d+$")] = "v23.0"
    container_wait_seconds: Annotated[float, Field(ge=10, le=3600)] = 300
    reel_wait_seconds: Annotated[float, Field(ge=10, le=3600)] = 600  # a Reel's container: video takes longer
    stage_delay_seconds: Annotated[float, Field(ge=0, le=600)] = 0  # a static host's sync interval

    @field_validator("access_token_file", "app_secret_file", "app_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("public_base_url")
    @classmethod
    def _https(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not re.fullmatch(r"https://[^/\s?#]+(/[^\s?#]*)?", value):
            raise ValueError("must be an https:// URL without ?query or #fragment (Instagram fetches photos "
                             "only over HTTPS)")
        return value

    def secret_app_secret(self) -> str | None:
        return read_secret(self.app_secret, self.app_secret_file, "graph.app_secret_file")


class IngestConfig(Section):
    stable_seconds: Annotated[float, Field(ge=0, le=600)] = 2.0
    rescan_minutes: Annotated[float, Field(ge=0, le=24 * 60)] = 5
    polling: bool = False
    max_file_mb: Annotated[float, Field(gt=0, le=2048)] = 100
    max_megapixels: Annotated[float, Field(gt=0, le=1000)] = 120
    near_duplicate_distance: Annotated[int, Field(ge=0, le=64)] = 4
    near_duplicate_similarity: Annotated[float, Field(ge=0, le=1)] = 0.95
    # A shoot: frames at most shoot_gap_seconds apart, same pets; drafted once none arrived for shoot_settle_seconds.
    shoot_gap_seconds: Annotated[float, Field(ge=0, le=24 * 3600)] = 120
    shoot_settle_seconds: Annotated[float, Field(ge=0, le=24 * 3600)] = 60
    max_video_seconds: Annotated[float, Field(gt=0, le=24 * 3600)] = 600  # a longer clip is quarantined
    video_frames: Annotated[int, Field(ge=1, le=64)] = 8  # sampled across a clip: its pets and its cover


class DraftsConfig(Section):
    # One draft per shoot, led by its best shot; its other distinct shots offered beside it, or a carousel (auto).
    carousel: Literal["offer", "auto", "never"] = "offer"
    carousel_max: Annotated[int, Field(ge=1, le=MAX_CAROUSEL_ITEMS)] = 6


class RetrainConfig(Section):
    min_new_posts: Annotated[int, Field(ge=0)] = 20
    holdout_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.15
    # The gate: too few held-out posts cannot tell a better model from luck.
    min_holdout_posts: Annotated[int, Field(ge=2)] = 8
    primary_metric: Literal["cider", "bleu", "rouge_l"] = "bleu"
    # On top of "better beyond the noise" (the bootstrap interval's lower end above this).
    min_improvement: Annotated[float, Field(ge=0)] = 0.0
    confidence: Annotated[float, Field(ge=0.5, lt=1)] = 0.95
    # Share of refused candidates a new model may add (0: refusals must not rise).
    max_refusal_rise: Annotated[float, Field(ge=0, le=1)] = 0.0
    # Style examples in a retrained model's prompt (training and use alike); the voice lives in the adapter.
    style_examples: Annotated[int, Field(ge=0, le=10)] = 0
    # "auto": chosen from the number of training posts (training/plan.py); a number forces it.
    steps: Literal["auto"] | Annotated[int, Field(ge=1)] = "auto"
    learning_rate: Literal["auto"] | Annotated[float, Field(gt=0, le=1)] = "auto"
    # Only for training.finetune.train called without a plan (the speed benchmark); retrain plans steps.
    epochs: Annotated[int, Field(ge=1, le=100)] = 3
    lora_rank: Annotated[int, Field(ge=1, le=256)] = 8
    batch_size: Annotated[int, Field(ge=1, le=256)] = 8
    # Training stops at 85 % of this, then evaluates and promotes only if better: a CPU-only box finishes overnight.
    time_budget_minutes: Annotated[float, Field(gt=0)] = 360


class WebConfig(Section):
    enabled: bool = False
    listen: str = "127.0.0.1:8686"
    public_url: str = ""
    # Loopback listens need no login unless this is set; any other address always requires it.
    require_login: bool = False
    session_days: Annotated[float, Field(gt=0, le=365)] = 30
    # Reverse proxies (addresses or networks) whose X-Forwarded-For/-Proto are believed; nobody else's are.
    trusted_proxies: list[IPvAnyNetwork] = []

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT, e.g. '127.0.0.1:8686' or '0.0.0.0:8686'")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise ValueError("must start with http:// or https://, e.g. 'https://pawpost.example.org'")
        return value


class NotifyConfig(Section):
    urls: list[SecretStr] = []
    review_every_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 6
    posts: bool = True
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 20
