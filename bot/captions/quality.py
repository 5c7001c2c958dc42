"""What makes a caption good or junk, as measures: echo of the prompt, task talk, invented mentions, an absent
pet's name or hashtag, contradicting species, first person, saying something the photo shows, copying, loops.

The rules refuse on several of these, ranking uses others, and `benchmarks/caption_quality.py` reports them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from bot.captions.text import (
    HASHTAG_RE,
    LIST_ITEM_RE,
    body,
    ends_sentence,
    hashtags,
    mentions,
    ngrams,
    repeated_phrase,
    similarity,
    split_closing_hashtags,
    words,
)

ECHO_NGRAM = 4  # this many words in a row taken from the instructions or a pet's description is an echo
# Words a caption has no reason to use but a model talking about its task does ("Caption:", "Personality: ...").
TASK_TALK_RE = re.compile(
    r"\b(?:captions?|hashtags?|instagram|personality|first[- ]person|third[- ]person|the voice|emojis?|"
    r"the prompt|instructions?|the account|this account|the owner|style examples?)\b"
    r"|^\s*(?:voice|theme|scene|note|pets?|photo|description|answer|tone)\s*:",
    re.IGNORECASE | re.MULTILINE)


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


FIRST_PERSON = _wordset("i i'm im i've i'll i'd me my mine myself we we're we've us our ours")
FIRST_PERSON_PLURAL = _wordset("we we're we've we'll us our ours ourselves")
FIRST_PERSON_VOICE_RE = re.compile(r"\bfirst[- ]person\b", re.IGNORECASE)

# Words that name an animal kind, by species; breed names count for their species.
SPECIES_WORDS: dict[str, frozenset[str]] = {
    "dog": _wordset("dog dogs doggo doggy doggie puppy puppies pup pups pupper hound chihuahua chihuahuas poodle "
                     "labrador retriever terrier beagle pug dachshund corgi husky bulldog spaniel"),
    "cat": _wordset("cat cats kitty kitten kittens kitties feline tabby meow"),
    "rabbit": _wordset("rabbit rabbits bunny bunnies"),
    "bird": _wordset("bird birds parrot parrots budgie budgies canary"),
    "horse": _wordset("horse horses pony ponies foal"),
    "hamster": _wordset("hamster hamsters"),
    "guinea pig": _wordset("guinea"),
    "fish": _wordset("fish goldfish"),
    "turtle": _wordset("turtle turtles tortoise"),
}
SPECIES_ALIASES = {"puppy": "dog", "kitten": "cat", "bunny": "rabbit", "parrot": "bird"}

STOPWORDS = _wordset(
    "a an the and or but of to in on at for with by from is are was were be been am i me my we our you your it "
    "its this that these those he she him her his they them their there here so very just not no yes do does did "
    "has have had will would can could as if then than too up down out over into about what who how when where "
    "why all any some more most one two also photo picture image shows showing seen looks looking while next near"
)
GENERIC = _wordset("animal animals pet pets account know known small little tiny big large cute")


def species_of(word: str) -> str | None:
    word = word.lower()
    for species, kind in SPECIES_WORDS.items():
        if word in kind:
            return species
    return None


def canonical_species(species: str) -> str:
    s = species.strip().lower()
    return SPECIES_ALIASES.get(s, species_of(s) or s)


def stem(word: str) -> str:
    # Crude folding so "blankets" agrees with "blanket" and "sleeping" with "sleeps".
    word = re.sub(r"(?<=[a-z]{3})(ing|ed|es|s)$", "", word)
    return re.sub(r"(?<=[a-z]{2})(.)\1$", r"\1", word)  # "napp" (from napping) -> "nap"


def content_words(text: str, exclude: Iterable[str] = ()) -> set[str]:
    skip = {w.lower() for w in exclude}
    return {stem(w) for w in words(text)
            if w not in STOPWORDS and w not in GENERIC and w not in skip and len(w) > 2 and species_of(w) is None}


# -- measures ----------------------------------------------------------------------------------------

def echoed(text: str, sources: Sequence[str], n: int = ECHO_NGRAM) -> str | None:
    """The first run of `n` words that `text` shares with any of `sources` (instructions, pets' descriptions)."""
    caption = words(text)
    grams = ngrams(caption, n)
    if not grams:
        return None
    for source in sources:
        shared = grams & ngrams(words(source), n)
        if shared:
            first = min(shared, key=lambda g: _position(caption, g))
            return " ".join(first)
    return None


def _position(tokens: list[str], gram: tuple[str, ...]) -> int:
    n = len(gram)
    return next((i for i in range(len(tokens) - n + 1) if tuple(tokens[i:i + n]) == gram), len(tokens))


def task_talk(text: str) -> str | None:
    """Words about the task rather than the photo ("caption", "hashtags", "Personality:"), or None."""
    found = TASK_TALK_RE.search(text if not hashtags(text) else body(text))
    return found.group(0).strip() if found else None


def echo(text: str, sources: Sequence[str]) -> str | None:
    """Why `text` echoes the prompt or talks about its task, or None: what the issue calls junk."""
    phrase = echoed(text, sources)
    if phrase:
        return f"it repeats the prompt (\"{phrase}\")"
    talk = task_talk(text)
    if talk:
        return f"it talks about the task (\"{talk}\")"
    return None


def invented_mentions(text: str, allowed: Iterable[str]) -> list[str]:
    ok = {m.lower().lstrip("@") for m in allowed}
    return [m for m in mentions(text) if m.lower().lstrip("@").rstrip(".") not in ok]


def inline_hashtags(text: str) -> list[str]:
    """Hashtags inside the caption's sentences (not in its closing block)."""
    main, _block = split_closing_hashtags(text)
    return hashtags(main)


def absent_pets(text: str, others: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """Pets not in the photo that `text` names or tags: `others` is (name, hashtags) per absent pet."""
    tags = {t.lower() for t in hashtags(text)}
    found = []
    for name, pet_tags in others:
        if names(text, name) or tags & {t.lower() for t in pet_tags}:
            found.append(name)
    return found


def names(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w#@]){re.escape(name)}(?!\w)", body(text), re.IGNORECASE) is not None


def contradicting_species(text: str, allowed: Iterable[str]) -> list[str]:
    """Animal words in `text` of a species that is not among `allowed` (the pets' and the scene's)."""
    ok = {canonical_species(s) for s in allowed}
    if not ok:
        return []
    return list(dict.fromkeys(w for w in words(text) if (s := species_of(w)) is not None and s not in ok))


def scene_species(scene: str) -> set[str]:
    return {s for w in words(scene) if (s := species_of(w)) is not None}


def wants_first_person(voice: str) -> bool:
    return FIRST_PERSON_VOICE_RE.search(voice) is not None


def first_person(text: str) -> bool:
    return any(w in FIRST_PERSON for w in words(text))


def says_scene(text: str, scene: str, exclude: Iterable[str] = ()) -> bool:
    """Whether `text` picks up something the scene describes (a content word, pet names and species aside)."""
    return bool(content_words(text, exclude) & content_words(scene, exclude))


def scene_overlap(text: str, scene: str, exclude: Iterable[str] = ()) -> float:
    """Share of the scene's content words (up to 3 of them) the caption picks up, 0..1."""
    ref = content_words(scene, exclude)
    if not ref:
        return 0.0
    return min(1.0, len(content_words(text, exclude) & ref) / min(len(ref), 3))


def introduces(text: str, name: str) -> bool:
    """Whether the speaking pet introduces itself ("I'm Lola", "My name is Lola", "Lola the dog") instead of
    saying something: what a small model told "You are Lola the dog" writes most often."""
    if not name:
        return False
    n = re.escape(name.lower())
    said = " ".join(words(text))
    return re.search(rf"\b(?:i'm|im|i am|my name is|name's|this is|it's) {n}\b|\b{n} the \w+", said) is not None


def multiline(text: str) -> bool:
    """More than one line before the closing hashtags, or list items."""
    main, _block = split_closing_hashtags(text)
    return "\n" in main.strip() or LIST_ITEM_RE.search(main) is not None


def truncated(text: str) -> bool:
    """The caption's words stop mid-sentence."""
    main, _block = split_closing_hashtags(text)
    return bool(body(main)) and not ends_sentence(main)


def looped(text: str) -> bool:
    return repeated_phrase(text) is not None


def copied(text: str, examples: Sequence[str]) -> float:
    """Similarity to the most alike of `examples` (style examples or past posts), 0..1."""
    return max((similarity(text, e) for e in examples), default=0.0)


def distinct_2(texts: Sequence[str]) -> float:
    """Distinct word bigrams over all bigrams across `texts` (1.0: no two captions share a phrase)."""
    grams = [g for t in texts for g in zip(words(t), words(t)[1:], strict=False)]
    return len(set(grams)) / len(grams) if grams else 0.0


def hashtag_free(text: str) -> str:
    """`text` with its hashtags removed (style examples teach tone, the rules add the hashtags)."""
    return " ".join(HASHTAG_RE.sub(" ", text).split())
