"""The caption prompt: pets, what the photo shows, the voice, the day's theme, style examples, hint and start.

`build_prompt` is shared with retraining so that a model is trained on exactly the prompts it is later given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.captions import templates
from bot.config import Config, PetConfig, ThemesConfig

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Meteorological seasons of the northern hemisphere, by month.
SEASONS = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring",
           6: "summer", 7: "summer", 8: "summer", 9: "autumn", 10: "autumn", 11: "autumn"}


@dataclass(frozen=True)
class PetInfo:
    """A pet as the prompt describes it (from the config), with how sure recognition was."""

    name: str
    species: str = "pet"
    description: str = ""
    personality: str = ""
    hashtags: tuple[str, ...] = ()
    confidence: float | None = None

    @classmethod
    def from_config(cls, pet: PetConfig, confidence: float | None = None) -> PetInfo:
        return cls(pet.name, pet.species, pet.description, pet.personality, tuple(pet.hashtags), confidence)


@dataclass
class Prompt:
    """One photo's prompt: a system and a user message, and the owner's first words of the caption."""

    system: str
    user: str
    start: str = ""
    pets: list[PetInfo] = field(default_factory=list)

    def messages(self, with_image: bool) -> list[dict[str, Any]]:
        """Chat messages; with an image, content is the list form image-text-to-text processors expect."""
        if with_image:
            return [
                {"role": "system", "content": [{"type": "text", "text": self.system}]},
                {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": self.user}]},
            ]
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]

    def plain(self) -> str:
        """The prompt for a model without a chat template, ending where the caption begins."""
        text = templates.PLAIN.format(system=self.system, user=self.user)
        return f"{text} {self.start}" if self.start else text

    def record(self) -> str:
        """The full prompt as stored with the draft, for debugging."""
        text = f"[system]\n{self.system}\n\n[user]\n{self.user}"
        return f"{text}\n\n[caption starts with]\n{self.start}" if self.start else text


def theme_for(themes: ThemesConfig, day: date) -> str | None:
    """The configured themes that apply on `day` (date, then weekday, then season), joined; None if none."""
    found = [
        themes.date.get(day.strftime("%m-%d")),
        themes.weekday.get(WEEKDAYS[day.weekday()]),
        themes.season.get(SEASONS[day.month]),
    ]
    found = [t for t in found if t]
    return "; ".join(dict.fromkeys(found)) if found else None


def pet_infos(config: Config, pets: Sequence[PetInfo | PetConfig | str]) -> list[PetInfo]:
    """Pets given as PetInfo, PetConfig or a configured name, as PetInfo (unknown names keep just the name)."""
    out: list[PetInfo] = []
    for pet in pets:
        if isinstance(pet, PetInfo):
            out.append(pet)
        elif isinstance(pet, PetConfig):
            out.append(PetInfo.from_config(pet))
        else:
            configured = config.pet(pet)
            out.append(PetInfo.from_config(configured) if configured else PetInfo(pet))
    return out


def build_prompt(
    config: Config,
    pets: Sequence[PetInfo | PetConfig | str],
    *,
    scene: str | None = None,
    examples: Sequence[str] = (),
    hint: str | None = None,
    start: str | None = None,
    day: date | None = None,
) -> Prompt:
    """The prompt for one photo.

    `scene` is what the photo shows in words (the describer's description and/or what vision found);
    `examples` are past captions to imitate; `hint` is the owner's note; `start` the caption's first words.
    """
    c = config.captions
    infos = pet_infos(config, pets)
    system = templates.SYSTEM.format(voice=c.voice.strip().rstrip("."), max_hashtags=c.max_hashtags)
    sections: list[str] = []
    if infos:
        lines = [templates.PET.format(
            name=p.name,
            species=p.species,
            description=templates.PET_DESCRIPTION.format(description=p.description) if p.description else "",
            personality=templates.PET_PERSONALITY.format(personality=p.personality) if p.personality else "",
        ) for p in infos]
        sections.append(templates.PETS_SECTION.format(pets="\n".join(lines)))
    elif config.pets:
        sections.append(templates.NO_PET_SECTION)
    if scene and scene.strip():
        sections.append(templates.SCENE_SECTION.format(scene=scene.strip()))
    theme = theme_for(c.themes, day) if day is not None else None
    if theme:
        sections.append(templates.THEME_SECTION.format(theme=theme))
    if hint and hint.strip():
        sections.append(templates.HINT_SECTION.format(hint=" ".join(hint.split())))
    shown = [" ".join(e.split()) for e in examples if e and e.strip()]
    if shown:
        sections.append(templates.EXAMPLES_SECTION.format(
            examples="\n".join(templates.EXAMPLE.format(caption=e) for e in shown)))
    names = _join_names([p.name for p in infos])
    sections.append(templates.TASK_WITH_NAME.format(names=names) if names else templates.TASK)
    user = templates.SECTION_SEPARATOR.join(sections)
    return Prompt(system=system, user=user, start=" ".join((start or "").split()), pets=infos)


def _join_names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
