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
    scene: str = ""  # what the photo shows, as the prompt says it
    examples: list[str] = field(default_factory=list)  # the style examples shown
    instructions: list[str] = field(default_factory=list)  # the prompt's own sentences, which a caption must not echo
    speaker: str = ""  # the pet who speaks, when the voice is the first person
    lead: str = ""  # the caption's first words when the owner gave none (templates.LEADS_AS_PET)
    photos: int = 1  # how many photos the post has
    images: int = 1  # how many pictures a chat VLM is shown with the prompt (photos, or a video's key frames)

    @property
    def opening(self) -> str:
        """The words every candidate begins with: the owner's start, else the lead."""
        return self.start or self.lead

    def messages(self, with_image: bool) -> list[dict[str, Any]]:
        """Chat messages; with images, content is the list form image-text-to-text processors expect, one image
        placeholder per photo shown (`images`), in post order, before the text."""
        if with_image:
            return [
                {"role": "system", "content": [{"type": "text", "text": self.system}]},
                {"role": "user", "content": [*({"type": "image"} for _ in range(self.images)),
                                             {"type": "text", "text": self.user}]},
            ]
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]

    def plain(self) -> str:
        """The prompt for a model without a chat template, ending where the caption begins."""
        text = templates.PLAIN.format(system=self.system, user=self.user)
        return f"{text} {self.opening}" if self.opening else text

    def echo_sources(self) -> list[str]:
        """What a caption must not parrot: the instructions, and the pets' descriptions and personalities."""
        return [*self.instructions, *(p.description for p in self.pets if p.description),
                *(p.personality for p in self.pets if p.personality)]

    def record(self) -> str:
        """The full prompt as stored with the draft, for debugging."""
        text = f"[system]\n{self.system}\n\n[user]\n{self.user}"
        return f"{text}\n\n[caption starts with]\n{self.opening}" if self.opening else text


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
    variant: int = 0,
    prime: bool = True,
    photos: int = 1,
    images: int = 1,
    video: bool = False,
) -> Prompt:
    """The prompt for one photo: the pets and what the photo shows as short sentences, examples of the
    account's tone, then the instruction.

    `scene` is what the photo shows in words (the describer's description and/or what vision found);
    `examples` are past captions whose tone to follow; `hint` is the owner's hint; `start` the caption's first words;
    `variant` (e.g. the photo's id) picks the pet's first words when the owner gave none. `prime=False` leaves those
    first words out: a model retrained on the account's captions was trained without them (training/prompts.py)
    and writes its own opening, so it is prompted exactly as it was trained. `photos` > 1 is a carousel: the
    prompt says so and asks for one caption about the set (`pets` and `scene` are then the whole set's); `images`
    is how many pictures a chat VLM is shown (some of a carousel's photos, or a video's key frames). `video`: the
    post is one video clip (a Reel), and the prompt speaks of the video, not a photo.
    """
    from bot.captions.quality import hashtag_free, wants_first_person

    c = config.captions
    infos = pet_infos(config, pets)
    voice = " ".join(c.voice.split()).rstrip(".")
    speaker = infos[0] if infos and wants_first_person(voice) else None
    system = templates.SYSTEM
    carousel = photos > 1
    video = video and not carousel
    facts: list[str] = ([templates.SET.format(count=photos)] if carousel else [templates.VIDEO] if video else [])
    no_pet = templates.NO_PET_SET if carousel else templates.NO_PET_VIDEO if video else templates.NO_PET
    for p in infos:
        # The pets' descriptions stay out: a small model repeats them instead of saying what the photo shows.
        if p is speaker:
            personality = _sentence(p.personality)
            system = templates.SYSTEM_AS_PET.format(name=p.name, species=p.species) + (
                templates.SPEAKER_PERSONALITY.format(name=p.name, personality=personality) if personality else "")
            continue
        facts.append(templates.PET.format(name=p.name, species=p.species)
                     + (templates.PET_PERSONALITY.format(name=p.name, personality=_sentence(p.personality))
                        if p.personality else ""))
    if not infos and config.pets:
        facts.append(no_pet)
    scene = " ".join((scene or "").split()).rstrip(".")
    theme = theme_for(c.themes, day) if day is not None else None
    if theme:
        facts.append(templates.THEME.format(theme=theme))
    if hint and hint.strip():
        said = templates.HINT_SET if carousel else templates.HINT_VIDEO if video else templates.HINT
        facts.append(said.format(hint=" ".join(hint.split()).rstrip(".")))
    shown = [t for t in (hashtag_free(e) for e in examples if e and e.strip()) if t]
    names = _join_names([p.name for p in infos])
    others = _join_names([p.name for p in infos if p is not speaker])
    photo = templates.THESE_PHOTOS if carousel else templates.THIS_VIDEO if video else templates.THIS_PHOTO
    if speaker is not None:
        task = [templates.TASK_AS_PET_WITH.format(photo=photo, names=others, voice=voice) if others else
                templates.TASK_AS_PET.format(photo=photo, voice=voice),
                templates.FIRST_PERSON.format(name=speaker.name)]
    else:
        task = [templates.TASK_WITH_NAME.format(photo=photo, names=names, voice=voice) if names else
                templates.TASK.format(photo=photo, voice=voice)]
    scene_detail = (templates.SCENE_DETAIL_SET if carousel else templates.SCENE_DETAIL_VIDEO if video
                    else templates.SCENE_DETAIL)
    detail = scene_detail.format(scene=scene) if scene else ""
    task.append(detail)
    # The speaker is named by its "I" (rules.wrong_names); the others by name.
    task.append(templates.NAME_THEM.format(names=others) if others else
                templates.NAME_NONE if config.pets and not infos else "")
    task.append(templates.ONLY_CAPTION)
    sections = [" ".join(facts)]
    if shown:
        sections.append(templates.EXAMPLES.format(
            examples="\n".join(templates.EXAMPLE.format(caption=e) for e in shown)))
    # The instruction, last, with what the photo shows inside it: the part of the prompt the caption is about.
    sections.append(" ".join(t for t in task if t))
    user = templates.SECTION_SEPARATOR.join(s for s in sections if s)
    # The pet's first words prime its answer: told only to say "I", a small model still writes "Lola, the dog ...".
    lead = ""
    if prime and speaker is not None and not (start and start.strip()):
        leads = [t.format(others=others) for t in templates.LEADS_AS_PET_WITH] if others else templates.LEADS_AS_PET
        lead = leads[variant % len(leads)]
    # The prompt's own words, which a caption must not echo (the scene, hint, theme and examples it may reuse).
    instructions = [templates.SYSTEM, system, *(t for t in task if t and t != detail),
                    facts[0] if carousel or video else "", no_pet if not infos else "",
                    templates.EXAMPLES.split("\n")[0], scene_detail.split(":")[0], templates.NO_ANIMAL_SEEN,
                    templates.STRANGERS.split(", ")[-1]]
    return Prompt(system=system, user=user, start=" ".join((start or "").split()), pets=infos,
                  scene=scene, examples=shown, instructions=[i for i in instructions if i],
                  speaker=speaker.name if speaker is not None else "", lead=lead, photos=max(1, photos),
                  images=max(1, images))


def _sentence(text: str) -> str:
    return " ".join(text.split()).rstrip(".")


def _join_names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
