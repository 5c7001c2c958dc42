"""Rules every caption must pass before it can be chosen or posted.

`instagram_limits` holds Instagram's hard limits (the owner's own text is checked by it too);
`check_candidate` cleans a generated candidate and applies every rule to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.captions.prompt import Prompt
    from bot.config import Config

MAX_CAPTION_CHARS = 2200
MAX_MENTIONS = 20

HASHTAG_RE = re.compile(r"(?<![\w#])#\w+")
MENTION_RE = re.compile(r"(?<![\w@])@[\w.]+")


def hashtags(text: str) -> list[str]:
    return HASHTAG_RE.findall(text)


def mentions(text: str) -> list[str]:
    return MENTION_RE.findall(text)


def instagram_limits(text: str, max_hashtags: int) -> str | None:
    """Why `text` breaks Instagram's limits, or None when it is within them."""
    if not text.strip():
        return "the caption is empty"
    if len(text) > MAX_CAPTION_CHARS:
        return f"the caption has {len(text)} characters; Instagram allows at most {MAX_CAPTION_CHARS}"
    tags = hashtags(text)
    if len(tags) > max_hashtags:
        return f"the caption has {len(tags)} hashtags; at most {max_hashtags} are allowed (captions.max_hashtags)"
    if len(mentions(text)) > MAX_MENTIONS:
        return f"the caption has {len(mentions(text))} @mentions; Instagram allows at most {MAX_MENTIONS}"
    return None


# -- rules for generated candidates -----------------------------------------------------------

LOOP_NGRAM = 3
STUTTER = 4  # the same word this many times in a row is a loop ("ha ha ha" is not)
NEAR_COPY_RATIO = 0.8  # word-sequence similarity from which a caption is a near-copy of a past one
PAST_CAPTIONS_CHECKED = 100

WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
SENTENCE_RE = re.compile(r"[.!?\n]+")
# Chat and tokenizer markers a model may emit: <|im_end|>, <end_of_utterance>, </s>, [SEP], <image> ...
SPECIAL_RE = re.compile(r"<\|[^|<>]{0,40}\|>|</?[A-Za-z_][\w\-]{0,40}>|\[(?:CLS|SEP|PAD|UNK|MASK|DEC)\]")
# Control characters and the replacement character (from half-decoded bytes), but not line breaks.
CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\ufffd]")
ROLE_PREFIX_RE = re.compile(r"^\s*(?:(?:assistant|caption|answer|user|system)\s*:\s*)+", re.IGNORECASE)


@dataclass
class RuleContext:
    """What the rules need to know about one photo."""

    max_hashtags: int = 5
    pet_names: list[str] = field(default_factory=list)  # pets identified in the photo
    other_names: list[str] = field(default_factory=list)  # configured pets NOT in the photo
    hashtags: list[str] = field(default_factory=list)  # the pets' then the account's, in priority order
    past_captions: list[str] = field(default_factory=list)  # the last posted captions, newest first
    prompt_lines: list[str] = field(default_factory=list)  # lines of the prompt, to strip if echoed
    special_tokens: list[str] = field(default_factory=list)
    start: str = ""


def rule_context(config: Config, prompt: Prompt, past: list[str], special_tokens: list[str]) -> RuleContext:
    """The rules' view of one photo, from the prompt written for it: the daemon and the retraining judge
    both check candidates against exactly this."""
    present = {p.name.lower() for p in prompt.pets}
    tags = [t for pet in prompt.pets for t in pet.hashtags]
    return RuleContext(
        max_hashtags=config.captions.max_hashtags,
        pet_names=[p.name for p in prompt.pets],
        other_names=[p.name for p in config.pets if p.name.lower() not in present],
        hashtags=list(dict.fromkeys([*tags, *config.captions.hashtags])),
        past_captions=past[:PAST_CAPTIONS_CHECKED],
        prompt_lines=[*prompt.system.split("\n"), *prompt.user.split("\n")],
        special_tokens=special_tokens,
        start=prompt.start,
    )


@dataclass
class Verdict:
    text: str
    passed: bool
    reason: str | None = None


def check_candidate(raw: str, ctx: RuleContext) -> Verdict:
    """Clean one generated candidate and apply every rule; the first rule it breaks is the reason."""
    text = clean(raw, ctx)
    if ctx.start and not text.startswith(ctx.start):
        return Verdict(text, False, f"does not begin with the requested start {ctx.start!r}")
    text, problem = merge_hashtags(text, ctx.hashtags, ctx.max_hashtags)
    if problem is None:
        problem = instagram_limits(text, ctx.max_hashtags)
    if problem is None and not body(text):
        problem = "the caption has no words besides hashtags"
    if problem is None:
        problem = repeated_phrase(text)
    if problem is None:
        problem = wrong_names(text, ctx.pet_names, ctx.other_names)
    if problem is None:
        problem = near_copy(text, ctx.past_captions[:PAST_CAPTIONS_CHECKED])
    return Verdict(text, problem is None, problem)


def clean(raw: str, ctx: RuleContext) -> str:
    """Strip special tokens, prompt echo and stray quotes; normalise whitespace (keeping paragraph breaks)."""
    text = raw
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


def body(text: str) -> str:
    """The caption without its hashtags and @mentions, for comparing wording."""
    return " ".join(MENTION_RE.sub(" ", HASHTAG_RE.sub(" ", text)).split())


def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in WORD_RE.findall(body(text))]


def merge_hashtags(text: str, extra: list[str], max_hashtags: int) -> tuple[str, str | None]:
    """Merge the caption's closing hashtags with `extra` (the pets' then the account's), no duplicates.

    Hashtags inside sentences stay where they are and count; the closing block is rebuilt as the pets' and
    account's tags first, then the model's own, until `max_hashtags`. Returns (text, problem or None).
    """
    lines = text.rstrip().split("\n")
    trailing: list[str] = []
    # The closing block: trailing tokens that are all hashtags (across the last lines).
    while lines:
        tokens = lines[-1].split()
        cut = len(tokens)
        while cut and HASHTAG_RE.fullmatch(tokens[cut - 1]):
            cut -= 1
        trailing = tokens[cut:] + trailing
        if cut:
            lines[-1] = " ".join(tokens[:cut])
            break
        lines.pop()
    main = "\n".join(lines).rstrip()
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


def repeated_phrase(text: str) -> str | None:
    """Why `text` loops (the same 3 words twice, one word 4 times running, a sentence said twice), or None."""
    w = words(text)
    for i in range(len(w) - STUTTER + 1):
        if len(set(w[i:i + STUTTER])) == 1:
            return f"it repeats itself (\"{w[i]}\" {STUTTER} times in a row)"
    seen: set[tuple[str, ...]] = set()
    for i in range(len(w) - LOOP_NGRAM + 1):
        gram = tuple(w[i:i + LOOP_NGRAM])
        if gram in seen:
            return f"it repeats itself (\"{' '.join(gram)}\" twice)"
        seen.add(gram)
    sentences: set[str] = set()
    for sentence in SENTENCE_RE.split(body(text)):
        key = " ".join(WORD_RE.findall(sentence.lower()))
        if len(key.split()) >= 2 and key in sentences:
            return f"it says the same sentence twice (\"{key}\")"
        sentences.add(key)
    return None


def mentions_name(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w#@]){re.escape(name)}(?!\w)", body(text), re.IGNORECASE) is not None


def wrong_names(text: str, pet_names: list[str], other_names: list[str]) -> str | None:
    """Why the names in `text` are wrong: a recognised pet not named, or a pet named who is not there."""
    missing = [n for n in pet_names if not mentions_name(text, n)]
    if missing:
        return f"it does not name {', '.join(missing)}, who is in the photo"
    intruders = [n for n in other_names if mentions_name(text, n)]
    if intruders:
        return f"it names {', '.join(intruders)}, who is not in this photo"
    return None


def similarity(a: str, b: str) -> float:
    """How alike two captions' wording is, 0..1 (hashtags, mentions, case and punctuation ignored)."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return 0.0
    return SequenceMatcher(None, wa, wb, autojunk=False).ratio()


def near_copy(text: str, past: list[str]) -> str | None:
    """Why `text` is a near-copy of a past caption, or None."""
    for caption in past:
        ratio = similarity(text, caption)
        if ratio >= NEAR_COPY_RATIO:
            shown = " ".join(caption.split())
            return f"it is a near-copy ({ratio:.0%} alike) of a past caption: \"{shown[:80]}\""
    return None
