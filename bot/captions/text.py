"""Caption text primitives shared by the rules, the quality measures and ranking: words, hashtags, mentions,
sentence endings, repeated phrases and wording similarity.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

from bot.limits import HASHTAG_RE, MENTION_RE, hashtags, mentions  # noqa: F401  (Instagram's parsing, used here too)

WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
SENTENCE_RE = re.compile(r"[.!?\n]+")
# What may close a sentence: . ! ? … and closing quotes or brackets after them.
SENTENCE_END_RE = re.compile(r"[.!?…]+[\"'”’)\]]*")
LIST_ITEM_RE = re.compile(r"^\s*(?:[-*•–]|\d+[.)])\s+", re.MULTILINE)

LOOP_NGRAM = 3
STUTTER = 4  # the same word this many times in a row is a loop ("ha ha ha" is not)


def body(text: str) -> str:
    """The caption without its hashtags and @mentions, for comparing wording."""
    return " ".join(MENTION_RE.sub(" ", HASHTAG_RE.sub(" ", text)).split())


def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in WORD_RE.findall(body(text))]


def ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def similarity(a: str, b: str) -> float:
    """How alike two captions' wording is, 0..1 (hashtags, mentions, case and punctuation ignored)."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return 0.0
    return SequenceMatcher(None, wa, wb, autojunk=False).ratio()


def split_closing_hashtags(text: str) -> tuple[str, list[str]]:
    """(the caption before its closing block of hashtags, that block's hashtags), across trailing lines."""
    lines = text.rstrip().split("\n")
    trailing: list[str] = []
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
    return "\n".join(lines).rstrip(), trailing


def _is_pictograph(char: str) -> bool:
    # Emoji and other symbols (🐶 ☀ ❤ skin tones), and the variation selector / joiner / keycap that follow them.
    return unicodedata.category(char) in ("So", "Sk") or char in "\ufe0f\u200d\u20e3"


SMILEY_END_RE = re.compile(r"(?:[:;]-?[()DPp]|<3)$")
FINISHED_RE = re.compile(SENTENCE_END_RE.pattern + "$")


def ends_sentence(text: str) -> bool:
    """Whether `text` ends like a finished sentence: . ! ? … (maybe quoted), an emoji, or a smiley."""
    text = text.rstrip()
    if not text:
        return False
    return _is_pictograph(text[-1]) or bool(SMILEY_END_RE.search(text) or FINISHED_RE.search(text))


def complete_part(text: str) -> str:
    """`text` up to the end of its last finished sentence (with the emoji right after it); '' if none is."""
    text = text.rstrip()
    if ends_sentence(text):
        return text
    last = 0
    for match in SENTENCE_END_RE.finditer(text):
        end = match.end()
        # Keep emoji that directly follow the sentence ("Nap time! 😴 And then" -> "Nap time! 😴").
        while end < len(text) and (text[end] == " " or _is_pictograph(text[end])):
            end += 1
        last = end
    return text[:last].rstrip()


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
