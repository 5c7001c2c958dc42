"""Rules every caption must pass before it can be chosen or posted.

`check_candidate` cleans a generated candidate and applies every rule to it, Instagram's hard limits
(`bot.limits.caption_problem`, which checks the owner's own text too) among them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.captions import identity, quality
from bot.captions.text import (
    body,
    complete_part,
    hashtags,
    repeated_phrase,
    similarity,
    split_closing_hashtags,
    words,
)
from bot.limits import MAX_HASHTAGS, caption_problem

if TYPE_CHECKING:
    from bot.captions.prompt import Prompt
    from bot.config import Config

# -- rules for generated candidates -----------------------------------------------------------

NEAR_COPY_RATIO = 0.8  # word-sequence similarity from which a caption is a near-copy of a past one
PAST_CAPTIONS_CHECKED = 100
DANGLING = (",", ";", ":", "-", "–", "—", "(")  # a caption that stops after one of these stopped mid-sentence

# Chat and tokenizer markers a model may emit: <|im_end|>, <end_of_utterance>, </s>, [SEP], <image> ...
SPECIAL_RE = re.compile(r"<\|[^|<>]{0,40}\|>|</?[A-Za-z_][\w\-]{0,40}>|\[(?:CLS|SEP|PAD|UNK|MASK|DEC)\]")
# Control characters and the replacement character (from half-decoded bytes), but not line breaks.
CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\ufffd]")
ROLE_PREFIX_RE = re.compile(r"^\s*(?:(?:assistant|caption|answer|user|system)\s*:\s*)+", re.IGNORECASE)


@dataclass
class RuleContext:
    """What the rules need to know about one photo."""

    max_hashtags: int = MAX_HASHTAGS
    pet_names: list[str] = field(default_factory=list)  # pets identified in the photo
    other_names: list[str] = field(default_factory=list)  # configured pets NOT in the photo
    hashtags: list[str] = field(default_factory=list)  # the pets' then the account's, in priority order
    past_captions: list[str] = field(default_factory=list)  # the last posted captions, newest first
    prompt_lines: list[str] = field(default_factory=list)  # lines of the prompt, to strip if echoed
    special_tokens: list[str] = field(default_factory=list)
    start: str = ""
    mentions: list[str] = field(default_factory=list)  # @accounts a caption may mention (captions.mentions)
    other_hashtags: list[str] = field(default_factory=list)  # hashtags of the configured pets NOT in the photo
    known_hashtags: list[str] = field(default_factory=list)  # hashtags the account has used (allowed inside sentences)
    echo_sources: list[str] = field(default_factory=list)  # instructions and pets' descriptions, not to parrot
    species: list[str] = field(default_factory=list)  # animal kinds in the photo (pets' and the scene's)
    examples: list[str] = field(default_factory=list)  # the style examples shown, not to copy
    speaker: str = ""  # the pet who speaks when the voice is the first person ("I" names it)
    speaker_species: str = ""  # the speaking pet's species, which it must not deny


def rule_context(config: Config, prompt: Prompt, past: list[str], special_tokens: list[str]) -> RuleContext:
    """The rules' view of one photo, from the prompt written for it: the daemon and the retraining judge
    both check candidates against exactly this."""
    present = {p.name.lower() for p in prompt.pets}
    tags = [t for pet in prompt.pets for t in pet.hashtags]
    others = [p for p in config.pets if p.name.lower() not in present]
    own = {t.lower() for t in [*tags, *config.captions.hashtags]}
    past = past[:PAST_CAPTIONS_CHECKED]
    return RuleContext(
        max_hashtags=config.captions.max_hashtags,
        pet_names=[p.name for p in prompt.pets],
        other_names=[p.name for p in others],
        hashtags=list(dict.fromkeys([*tags, *config.captions.hashtags])),
        past_captions=past,
        prompt_lines=[*prompt.system.split("\n"), *prompt.user.split("\n")],
        special_tokens=special_tokens,
        start=prompt.start,
        mentions=list(config.captions.mentions),
        other_hashtags=[t for p in others for t in p.hashtags if t.lower() not in own],
        known_hashtags=list(dict.fromkeys(t for caption in past for t in hashtags(caption))),
        echo_sources=prompt.echo_sources(),
        species=sorted({p.species for p in prompt.pets} | quality.scene_species(prompt.scene)),
        examples=list(prompt.examples),
        speaker=prompt.speaker,
        speaker_species=next((p.species for p in prompt.pets if p.name == prompt.speaker), ""),
    )


class Generated(str):
    """A model's raw candidate, knowing whether generation stopped by itself or ran out of new tokens."""

    cut_off: bool

    def __new__(cls, text: str, cut_off: bool = False) -> Generated:
        obj = super().__new__(cls, text)
        obj.cut_off = cut_off
        return obj


@dataclass
class Verdict:
    text: str
    passed: bool
    reason: str | None = None


def check_candidate(raw: str, ctx: RuleContext) -> Verdict:
    """Clean one generated candidate and apply every rule; the first rule it breaks is the reason."""
    text = first_paragraph(clean(raw, ctx))
    if ctx.start and not text.startswith(ctx.start):
        return Verdict(text, False, f"does not begin with the requested start {ctx.start!r}")
    main, trailing = split_closing_hashtags(text)
    cut_off = getattr(raw, "cut_off", False)
    if (cut_off or main.rstrip().endswith(DANGLING)) and trailing == []:
        # Ran out of tokens, or stopped after a comma: keep the finished sentences; a caption never ends in a
        # half sentence.
        main = complete_part(main)
        if not body(main) or (ctx.start and not main.startswith(ctx.start)):
            return Verdict(text, False, "it was cut off mid-sentence (captions.max_new_tokens) before its first "
                                        "sentence ended" if cut_off else "its only sentence is unfinished")
    if not ctx.start:
        # An opening "I am Lola the dog." before a caption about the photo: the caption is what follows it.
        main = identity.without_introduction(main, ctx.speaker, ctx.speaker_species) or main
    text, problem = merge_hashtags(" ".join([main, *_kept(trailing, ctx)]), ctx.hashtags, ctx.max_hashtags)
    if problem is None:
        problem = caption_problem(text, ctx.max_hashtags)
    if problem is None:
        problem = content_problem(main, trailing, ctx)
    if problem is None and not body(text):
        problem = "the caption has no words besides hashtags"
    if problem is None:
        problem = repeated_phrase(text)
    if problem is None:
        problem = identity_problem(main, ctx)
    if problem is None:
        problem = wrong_names(text, ctx.pet_names, ctx.other_names, ctx.speaker)
    if problem is None:
        problem = near_copy(text, ctx.past_captions[:PAST_CAPTIONS_CHECKED])
    if problem is None:
        problem = near_copy(text, ctx.examples, "a style example")
    return Verdict(text, problem is None, problem)


def content_problem(main: str, trailing: list[str], ctx: RuleContext) -> str | None:
    """Why what the caption says is wrong for this photo: parroted prompt, a list, an invented @mention or
    hashtag, an absent pet's hashtag, or a species that contradicts the photo."""
    if quality.LIST_ITEM_RE.search(main):
        return "it is a list, not a caption"
    problem = quality.echo(main, ctx.echo_sources)
    if problem:
        return problem
    invented = quality.invented_mentions(main + " " + " ".join(trailing), ctx.mentions)
    if invented:
        return f"it mentions {', '.join(invented)}, who is not in captions.mentions"
    absent = {t.lower() for t in ctx.other_hashtags} & {t.lower() for t in hashtags(main)}
    if absent:
        return f"it has the hashtag {', '.join(sorted(absent))} of a pet who is not in this photo"
    allowed = {t.lower() for t in [*ctx.hashtags, *ctx.known_hashtags]}
    inline = [t for t in hashtags(main) if t.lower() not in allowed]
    if inline:
        return f"it has the hashtag {inline[0]} inside a sentence, which is not one of the account's"
    wrong = quality.contradicting_species(main, ctx.species)
    if wrong:
        return f"it calls the animal \"{wrong[0]}\", which is not a {' or '.join(ctx.species)}"
    return None


def identity_problem(main: str, ctx: RuleContext) -> str | None:
    """Why the caption gets wrong who is speaking or who is there: the pet introduces itself, calls itself by
    another pet's name or contradicts itself, or an animal or person gets a name nobody configured."""
    speaker = ctx.speaker
    intro = identity.self_introduction(main, speaker, ctx.speaker_species)
    if intro:
        return f"it has {speaker} introduce itself (\"{intro}\") instead of saying something about the photo"
    swap = identity.identity_swap(main, speaker, [*ctx.pet_names, *ctx.other_names])
    if swap:
        return f"it has {speaker} call itself by another pet's name (\"{swap}\")"
    contradiction = identity.self_contradiction(main, speaker, ctx.speaker_species, ctx.pet_names)
    if contradiction:
        return f"it has {speaker} contradict who it is or who is with it (\"{contradiction}\")"
    invented = identity.invented_names(main, known_words(ctx))
    if invented:
        return (f"it names {', '.join(invented)}, who is neither one of the account's pets nor in "
                "captions.mentions")
    return None


def known_words(ctx: RuleContext) -> list[str]:
    """Everything a caption may take a name from: the pets, the mentions, the prompt (scene, hint, theme, style
    examples) and the account's past captions."""
    return [*ctx.pet_names, *ctx.other_names, *ctx.mentions, ctx.start, *ctx.prompt_lines, *ctx.echo_sources,
            *ctx.examples, *ctx.past_captions]


def _kept(trailing: list[str], ctx: RuleContext) -> list[str]:
    # The model's own closing hashtags follow the configured ones, but never an absent pet's.
    absent = {t.lower() for t in ctx.other_hashtags}
    return [t for t in trailing if t.lower() not in absent]


def first_paragraph(text: str) -> str:
    """The caption up to its first blank line (the writer stops there; anything after is a second answer)."""
    return text.split("\n\n", 1)[0].strip() if not _only_hashtags_after(text) else text


def _only_hashtags_after(text: str) -> bool:
    # "Caption.\n\n#tag #tag" is one caption with its closing block, not two paragraphs.
    parts = text.split("\n\n", 1)
    return len(parts) == 2 and bool(parts[1].strip()) and not body(parts[1])


def clean(raw: str, ctx: RuleContext) -> str:
    """Strip special tokens, prompt echo and stray quotes; normalise whitespace (keeping paragraph breaks)."""
    text = str(raw)
    for token in sorted(ctx.special_tokens, key=len, reverse=True):
        if token:
            text = text.replace(token, " ")
    text = SPECIAL_RE.sub(" ", text)
    text = CONTROL_RE.sub("", text)
    # The owner's start is the caption's beginning by construction; only what the model wrote is stripped.
    start = ctx.start if ctx.start and text.startswith(ctx.start) else ""
    text = start + _strip_echo(text[len(start):], ctx.prompt_lines)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'“”":
        text = text[1:-1].strip()
    elif len(text) >= 2 and text[0] in "\"“" and text.count(text[0]) == 1 and text[0] != "'":
        text = text[1:].strip()  # an opening quote the model never closed
    return text


def _strip_echo(text: str, prompt_lines: list[str]) -> str:
    # A model may repeat its instructions or a role label before (or instead of) the caption.
    echoed = {" ".join(line.split()).lower() for line in prompt_lines if len(line.split()) >= 3}
    kept = []
    for line in text.split("\n"):
        line = ROLE_PREFIX_RE.sub("", line, count=1) if not kept or not "".join(kept).strip() else line
        if " ".join(line.split()).lower() not in echoed:
            kept.append(line)
    return "\n".join(kept)


def merge_hashtags(text: str, extra: list[str], max_hashtags: int) -> tuple[str, str | None]:
    """Merge the caption's closing hashtags with `extra` (the pets' then the account's), no duplicates.

    Hashtags inside sentences stay where they are and count; the closing block is rebuilt as the pets' and
    account's tags first, then the model's own, until `max_hashtags`. Returns (text, problem or None).
    """
    main, trailing = split_closing_hashtags(text)
    inline = hashtags(main)
    if len(inline) > max_hashtags:
        return text, (f"the caption has {len(inline)} hashtags inside its sentences; at most {max_hashtags} are "
                      "allowed (captions.max_hashtags)")
    seen = {t.lower() for t in inline}
    block: list[str] = []
    for tag in [*extra, *trailing]:
        if tag.lower() not in seen and len(inline) + len(block) < max_hashtags:
            seen.add(tag.lower())
            block.append(tag)
    if not block:
        return main, None
    return (f"{main}\n\n{' '.join(block)}" if main else " ".join(block)), None


def mentions_name(text: str, name: str) -> bool:
    return quality.names(text, name)


def wrong_names(text: str, pet_names: list[str], other_names: list[str], speaker: str = "") -> str | None:
    """Why the names in `text` are wrong: a recognised pet not named, or a pet named who is not there.

    A pet speaking in the first person is named by its "I" and "my", as on a real pet's account (its hashtag
    tags it anyway); with "we", "us" or "our" it speaks for every pet in the photo, so none must be named.
    """
    missing = [n for n in pet_names if not mentions_name(text, n) and not _implied(text, n, speaker)]
    if missing:
        return f"it does not name {', '.join(missing)}, who is in the photo"
    intruders = [n for n in other_names if mentions_name(text, n)]
    if intruders:
        return f"it names {', '.join(intruders)}, who is not in this photo"
    return None


def _implied(text: str, name: str, speaker: str) -> bool:
    if not speaker:
        return False
    said = set(words(text))
    if name.lower() == speaker.lower() and said & quality.FIRST_PERSON:
        return True
    return bool(said & quality.FIRST_PERSON_PLURAL)


def near_copy(text: str, past: list[str], what: str = "a past caption") -> str | None:
    """Why `text` is a near-copy of a past caption (or of a style example), or None."""
    for caption in past:
        ratio = similarity(text, caption)
        if ratio >= NEAR_COPY_RATIO:
            shown = " ".join(caption.split())
            return f"it is a near-copy ({ratio:.0%} alike) of {what}: \"{shown[:80]}\""
    return None
