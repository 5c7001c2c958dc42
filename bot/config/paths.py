"""Every path-valued setting of a config, found by walking its models rather than kept in a list: resolving them
against the config file's folder, and naming each for the inbox check and ingest's guard.

A path setting is a `Path` (or `Path | None`, or `list[Path]`) anywhere in a section, or a model setting typed
`ModelRef` whose value names a local folder or file rather than a hub id.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, get_args

from pydantic import BaseModel
from pydantic.fields import FieldInfo


class _LocalOrHub:
    """Marks a str setting that is a hub id or a local folder or file (a model)."""

    def __repr__(self) -> str:
        return "LocalOrHub"


LOCAL_OR_HUB = _LocalOrHub()
ModelRef = Annotated[str, LOCAL_OR_HUB]


@dataclass(frozen=True)
class PathSetting:
    """One setting that names a path: its key as the owner writes it (`graph.app_secret_file`, `pets[0].photos`)."""

    key: str
    path: Path
    whose: str = ""  # the named item of a list of tables it belongs to (a pet's name)

    @property
    def label(self) -> str:
        return f"{self.key} ({self.whose})" if self.whose else self.key


def is_model_ref(field: FieldInfo) -> bool:
    """Whether the field is typed `ModelRef` (also inside `ModelRef | None`)."""
    if LOCAL_OR_HUB in field.metadata:
        return True
    return any(LOCAL_OR_HUB in getattr(arg, "__metadata__", ()) for arg in get_args(field.annotation))


def names_local(value: str, base: Path) -> bool:
    """Whether a model setting names a local folder or file (relative to `base`) rather than a hub id."""
    return value.startswith((".", "/", "~")) or (base / value).exists()


def _fields(model: BaseModel, prefix: str = "", whose: str = "") -> Iterator[tuple[BaseModel, str, str, Any, bool,
                                                                                  str]]:
    """(model, field name, dotted key, value, is a ModelRef, whose) for every field, depth first."""
    for name, field in type(model).model_fields.items():
        if field.exclude:
            continue
        value = getattr(model, name)
        key = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            yield from _fields(value, f"{key}.", whose)
        elif isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
            for i, item in enumerate(value):
                label = getattr(item, "name", "")
                yield from _fields(item, f"{key}[{i}].", label if isinstance(label, str) else whose)
        else:
            yield model, name, key, value, is_model_ref(field), whose


def resolve_paths(config: BaseModel, base: Path) -> None:
    """Make every path setting absolute: `~` expanded, a relative one taken from `base` (the config's folder)."""
    def resolve(p: Path) -> Path:
        p = p.expanduser()
        return p if p.is_absolute() else (base / p).resolve()

    for model, name, _key, value, model_ref, _whose in list(_fields(config)):
        if isinstance(value, Path):
            setattr(model, name, resolve(value))
        elif isinstance(value, list) and value and all(isinstance(v, Path) for v in value):
            setattr(model, name, [resolve(v) for v in value])
        elif model_ref and isinstance(value, str) and value and names_local(value, base):
            setattr(model, name, str(resolve(Path(value))))


def path_settings(config: BaseModel) -> list[PathSetting]:
    """Every setting that names a path, once resolved: a model setting counts only when it is a local path."""
    found: list[PathSetting] = []
    for _model, _name, key, value, model_ref, whose in _fields(config):
        if isinstance(value, Path):
            found.append(PathSetting(key, value, whose))
        elif isinstance(value, list) and value and all(isinstance(v, Path) for v in value):
            found += [PathSetting(f"{key}[{i}]", v, whose) for i, v in enumerate(value)]
        elif model_ref and isinstance(value, str) and Path(value).is_absolute():
            found.append(PathSetting(key, Path(value), whose))
    return found
