"""Who the speaking pet is, as a caption may get it wrong: introducing itself in the words of its persona, calling
itself by another pet's name, giving names to animals or people nobody configured, or contradicting itself.

Each check returns what it found (the words, or None / []); `rules.py` refuses on them and
`benchmarks/caption_quality.py` counts them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from bot.captions.quality import SPECIES_WORDS, canonical_species
from bot.captions.text import body, split_closing_hashtags, words

# "I am", "I'm" and their spellings, in the lower-cased, apostrophe-folded form `_said` gives.
_I_AM = r"(?:i am|i'm|im)"
_SELF = rf"(?:{_I_AM}|my name is|my name's|name's|call me|it's me|its me|it is me|me|this is|it's|its|meet)"
# Words between "I am a" and the species word: "I am a happy and playful dog", "I'm a tiny fawn chihuahua".
_ADJECTIVES = r"(?:[\w']+ ){0,4}?"
_SENTENCE_START_RE = re.compile(r"(?:^|[.!?…:;\n]|[^\w\s,'’\-&(\"“])\s*[\"“']?\s*$")
_CAPITALISED_RE = re.compile(r"(?<![\w'’#@])[A-Z][a-z]+(?:['’]s)?(?![\w'’])")
_TITLES = ("Mr", "Mrs", "Ms", "Dr", "St", "Sr", "Jr")
# Words a caption capitalises that are not names: days, months, feasts, greetings, family words.
NOT_NAMES = frozenset(re.findall(r"\S+", """
    monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
    september october november december christmas xmas halloween easter valentine valentine's thanksgiving new year
    eve day birthday gotcha happy merry mother's father's weekend spring summer autumn fall winter
    mom mommy mum mummy mama dad daddy papa hooman hoomans human humans grandma grandpa granny auntie aunt uncle
    god omg lol yay wow hello hi hey oh ah aw aww yes no nope ok okay
    i i'm i've i'll i'd me my we we're us our you your
"""))


def _said(text: str) -> str:
    # The caption's words (hashtags and @mentions aside), lower-cased, one space apart.
    return " ".join(words(text))


def self_introduction(text: str, speaker: str, species: str = "") -> str | None:
    """The words with which the speaking pet introduces itself ("I am Lola", "I'm a tiny chihuahua", "Lola the
    dog"), or None: a small model told "You are Lola the dog" writes that instead of saying what the photo shows."""
    if not speaker:
        return None
    said = _said(text)
    name = re.escape(speaker.lower())
    kinds = "|".join(sorted(_species_words(species), key=len, reverse=True)) if species else ""
    patterns = [rf"\b{_SELF},? {name}\b", rf"\b{name},? (?:the|a|an) (?:[\w']+ ){{0,3}}?(?:{kinds or 'dog'})\b"]
    if kinds:
        patterns.append(rf"\b{_I_AM} (?:just )?(?:a|an|the|your) {_ADJECTIVES}(?:{kinds})\b")
    for pattern in patterns:
        found = re.search(pattern, said)
        if found:
            return found.group(0)
    return None


# The end of a caption's first sentence: its closing mark(s) and any quote or bracket, then the space before the next.
_FIRST_SENTENCE_END_RE = re.compile(r"[.!?…]+[\"'”’)\]]*\s+")
# What must remain of a caption after its opening self-introduction is dropped: at least this many words.
MIN_WORDS_LEFT = 4


def without_introduction(text: str, speaker: str, species: str = "") -> str | None:
    """`text` without its first sentence when only that sentence is the speaking pet introducing itself ("I am
    Lola the dog. I'm napping on the blue sofa." -> "I'm napping on the blue sofa."), or None when the
    introduction is not confined to a first sentence that leaves a caption of its own behind."""
    end = _FIRST_SENTENCE_END_RE.search(text)
    if end is None or not self_introduction(text[:end.start()], speaker, species):
        return None
    rest = text[end.end():].lstrip()
    if len(words(rest)) < MIN_WORDS_LEFT or self_introduction(rest, speaker, species):
        return None
    return rest[:1].upper() + rest[1:]


def identity_swap(text: str, speaker: str, others: Iterable[str]) -> str | None:
    """Another pet's name the speaking pet calls itself by ("I am Pico" written as Lola), or None."""
    if not speaker:
        return None
    said = _said(text)
    for other in others:
        if other.lower() == speaker.lower():
            continue
        found = re.search(rf"\b(?:{_I_AM}|my name is|my name's|call me|it's me|its me|it is me|me),? "
                          rf"{re.escape(other.lower())}\b", said)
        if found:
            return found.group(0)
    return None


def invented_names(text: str, known: Iterable[str]) -> list[str]:
    """Names `text` gives to animals or people that are none of `known` (the configured pets, the mentions and
    every word the prompt and the account's captions use), as capitalised words that read as names."""
    allowed = {w.lower() for k in known for w in words(k)} | NOT_NAMES | _species_words("")
    main, _block = split_closing_hashtags(text)
    main = body(main) if "#" in main or "@" in main else main
    for title in _TITLES:
        main = re.sub(rf"\b{title}\.", title, main)
    found: list[str] = []
    for match in _CAPITALISED_RE.finditer(main):
        word = re.sub(r"['’]s$", "", match.group(0))
        if word.lower() in allowed or word.lower() in found:
            continue
        before, after = main[:match.start()], main[match.end():]
        if word in _TITLES or not _SENTENCE_START_RE.search(before) or _reads_as_name(match.group(0), after):
            found.append(word)
    return found


def _reads_as_name(word: str, after: str) -> bool:
    # A sentence's first word is a name when what follows treats it as one: "Luna and I", "Luna is my ...",
    # "Luna's ball", "Luna, my ...", "Luna the cat".
    if word.endswith(("'s", "’s")):
        return True
    follow = " ".join(after.lower().replace("’", "'").split())
    kinds = "|".join(sorted(_species_words(""), key=len, reverse=True))
    return re.match(r"(?:,? ?and (?:i|me|my)\b|,? ?(?:is|was) my\b|, ?(?:my|the|our)\b|,? ?the (?:[\w']+ ){0,2}?"
                    rf"(?:{kinds})\b)", follow) is not None


def self_contradiction(text: str, speaker: str, species: str = "", pets: Sequence[str] = ()) -> str | None:
    """Where the speaking pet contradicts who it is, or None: it denies its species ("I am not a dog"), claims
    another ("I'm a cat" from a dog), speaks of itself as someone else ("Lola and I" written as Lola), or is
    alone in a photo of several pets."""
    if not speaker:
        return None
    said = _said(text)
    mine = _species_words(species) if species else set()
    if mine:
        kinds = "|".join(sorted(mine, key=len, reverse=True))
        found = re.search(rf"\b(?:{_I_AM}|i was|i'm) (?:not|no longer|never) {_ADJECTIVES}(?:{kinds})\b", said)
        if found:
            return found.group(0)
        theirs = _species_words("") - mine
        found = re.search(rf"\b{_I_AM} (?:a|an) {_ADJECTIVES}(?:{'|'.join(sorted(theirs, key=len, reverse=True))})"
                          r"\b(?! person| lover| friend)", said)
        if found:
            return found.group(0)
    name = re.escape(speaker.lower())
    if re.search(r"\b(?:i|me|my|i'm|myself)\b", said) and not self_introduction(text, speaker, species):
        found = re.search(rf"\b{name}\b(?:'s)?(?: [\w']+)?", said)
        if found:
            return found.group(0)
    if len(pets) > 1:
        found = re.search(r"\b(?:all alone|all by myself|by myself|alone|on my own)\b", said)
        if found:
            return found.group(0)
    return None


def _species_words(species: str) -> set[str]:
    """The words for `species` (every animal word when it is empty)."""
    if not species:
        return set().union(*SPECIES_WORDS.values())
    kind = canonical_species(species)
    return set(SPECIES_WORDS.get(kind, frozenset())) | {species.lower()} if kind else set()


def speaks_as_owner(text: str, species: str) -> str | None:
    """Words in which the pet speaks of an animal of its own kind as its owner would ("my little dog", "my
    puppy"), or None: in a photo of one pet, that reads as the owner talking, not the pet."""
    kinds = "|".join(sorted(_species_words(species), key=len, reverse=True)) if species else ""
    if not kinds:
        return None
    found = re.search(rf"\bmy {_ADJECTIVES}(?:{kinds})\b", _said(text))
    return found.group(0) if found else None
