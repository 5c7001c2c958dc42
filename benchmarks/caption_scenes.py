"""The scenes benchmarks/caption_quality.py captions: the original 34 and a newer set split into a half to tune on
and a held-out half that is only run to measure, never to tune.

A scene is what the describer would say about a photo, with the pets recognised in it and what vision found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NEUTRAL_DAY = "2026-05-05T12:00:00+00:00"  # a Tuesday in spring: none of the example config's themes apply
UNKNOWN_CAT = {"animals": [{"label": "cat", "pet": None}]}
UNKNOWN_DOG = {"animals": [{"label": "dog", "pet": None}]}
NO_ANIMAL = {"no_animal": True}


@dataclass
class Scene:
    kind: str
    pets: list[str]
    description: str  # what the describer would say
    analysis: dict[str, Any] = field(default_factory=dict)  # what vision found besides the pets
    hint: str | None = None
    start: str | None = None
    day: str = NEUTRAL_DAY


SCENES = [
    Scene("one pet", ["Lola"], "a small dog lying on a blue blanket on a couch"),
    Scene("one pet", ["Lola"], "a chihuahua wearing a yellow raincoat standing on a wet street"),
    Scene("one pet", ["Lola"], "a small dog sitting in the grass in a park"),
    Scene("one pet", ["Lola"], "a dog sleeping in the sun next to a window"),
    Scene("one pet", ["Lola"], "a small dog looking at a plate of cheese on a table"),
    Scene("one pet", ["Lola"], "a chihuahua in a pink sweater sitting in the snow"),
    Scene("one pet", ["Lola"], "a small dog with a red ball in its mouth"),
    Scene("one pet", ["Lola"], "a dog sitting in the back seat of a car"),
    Scene("one pet", ["Lola"], "a small dog lying on a bed with white pillows"),
    Scene("one pet", ["Lola"], "a chihuahua on a sandy beach near the sea"),
    Scene("one pet", ["Pico"], "a black and tan puppy chewing a shoe"),
    Scene("one pet", ["Pico"], "a puppy with big ears sitting on a kitchen floor"),
    Scene("one pet", ["Pico"], "a small puppy running on a path in the park"),
    Scene("one pet", ["Pico"], "a puppy asleep in a round dog bed"),
    Scene("two pets", ["Lola", "Pico"], "two small dogs sleeping together on a couch"),
    Scene("two pets", ["Lola", "Pico"], "two chihuahuas sitting on a wooden floor looking up"),
    Scene("two pets", ["Lola", "Pico"], "two dogs playing with a rope toy on the grass"),
    Scene("two pets", ["Lola", "Pico"], "two small dogs wrapped in a blanket"),
    Scene("two pets", ["Lola", "Pico"], "two dogs walking on a sidewalk on leashes"),
    Scene("pet absent", [], "a bowl of food on a kitchen floor", NO_ANIMAL),
    Scene("pet absent", [], "an empty dog bed next to a window", NO_ANIMAL),
    Scene("pet absent", [], "a red sofa with a blanket and pillows", NO_ANIMAL),
    Scene("unknown animal", ["Lola"], "a small dog and a cat sitting on a couch", UNKNOWN_CAT),
    Scene("unknown animal", ["Lola"], "a small dog looking at a cat through a window", UNKNOWN_CAT),
    Scene("unknown animal", [], "a large dog running in a park", UNKNOWN_DOG),
    Scene("owner hint", ["Lola"], "a small dog sitting on a table", hint="her first visit to the groomer"),
    Scene("owner hint", ["Lola"], "a small dog lying on a couch", hint="back from the vet, all is well"),
    Scene("owner hint", ["Pico"], "a puppy next to a cake", hint="his first birthday today"),
    Scene("start", ["Lola"], "a small dog lying in the sun on a balcony", start="Guess who"),
    Scene("start", ["Lola", "Pico"], "two small dogs asleep on a blanket", start="Team nap"),
    Scene("theme", ["Lola"], "a small dog in front of a christmas tree", day="2026-12-25T12:00:00+00:00"),
    Scene("theme", ["Pico"], "a puppy next to a pumpkin", day="2026-10-31T12:00:00+00:00"),
    Scene("theme", ["Lola"], "a small dog lying on a sofa", day="2026-05-10T12:00:00+00:00"),  # a Sunday
    Scene("theme", ["Lola", "Pico"], "two small dogs in the snow", day="2027-01-12T12:00:00+00:00"),  # winter
]

# Newer scenes, written as pairs of one kind; HALVES deals each pair out, one to each half, so both halves hold
# the same kinds. The four failure kinds come up with one pet alone (the pet introduces itself), two
# pets (it takes the other's name or speaks of itself as someone else) and other animals or people (it names them).
NEW_SCENES = [
    Scene("one pet", ["Lola"], "a small dog sitting on a wooden bench in a garden"),
    Scene("one pet", ["Lola"], "a chihuahua lying on a fluffy white rug"),
    Scene("one pet", ["Lola"], "a small dog peeking out of a cardboard box"),
    Scene("one pet", ["Lola"], "a chihuahua standing next to a puddle after the rain"),
    Scene("one pet", ["Lola"], "a small dog wearing a green bandana on a hiking trail"),
    Scene("one pet", ["Lola"], "a chihuahua curled up on a knitted blanket by a fireplace"),
    Scene("one pet", ["Lola"], "a small dog sitting in a shopping basket"),
    Scene("one pet", ["Lola"], "a chihuahua yawning on a sofa cushion"),
    Scene("one pet", ["Lola"], "a small dog looking out of a train window"),
    Scene("one pet", ["Lola"], "a chihuahua sniffing flowers in a pot"),
    Scene("one pet", ["Pico"], "a puppy with huge ears sitting on a doormat"),
    Scene("one pet", ["Pico"], "a black and tan puppy tangled in a ball of yarn"),
    Scene("one pet", ["Pico"], "a puppy carrying a stick bigger than himself"),
    Scene("one pet", ["Pico"], "a puppy sitting in a laundry basket full of towels"),
    Scene("one pet", ["Pico"], "a small puppy looking at his reflection in a mirror"),
    Scene("one pet", ["Pico"], "a puppy lying on his back on the grass"),
    Scene("two pets", ["Lola", "Pico"], "two small dogs sharing a bowl of water"),
    Scene("two pets", ["Lola", "Pico"], "two chihuahuas lying side by side on a bed"),
    Scene("two pets", ["Lola", "Pico"], "two dogs sitting in a wicker basket"),
    Scene("two pets", ["Lola", "Pico"], "two small dogs looking out of a car window"),
    Scene("two pets", ["Pico", "Lola"], "a puppy chewing the ear of a small dog"),
    Scene("two pets", ["Pico", "Lola"], "a puppy and a small dog running on a beach"),
    Scene("two pets", ["Lola", "Pico"], "two chihuahuas in matching red sweaters"),
    Scene("two pets", ["Lola", "Pico"], "two small dogs waiting at the front door"),
    Scene("two pets", ["Lola", "Pico"], "two dogs napping under a table"),
    Scene("two pets", ["Lola", "Pico"], "two small dogs on a picnic blanket in a park"),
    Scene("people", ["Lola"], "a small dog sitting on a woman's lap on a sofa"),
    Scene("people", ["Lola"], "a little girl hugging a chihuahua in a garden"),
    Scene("people", ["Lola"], "a man walking a small dog on a leash in the city"),
    Scene("people", ["Lola"], "a small dog being held by a boy at the beach"),
    Scene("people", ["Pico"], "a woman feeding a treat to a puppy in a kitchen"),
    Scene("people", ["Pico"], "a puppy licking the face of a laughing child"),
    Scene("people", ["Lola", "Pico"], "two small dogs on the lap of an old man on a bench"),
    Scene("people", ["Lola", "Pico"], "a family on a sofa with two small dogs"),
    Scene("other animals", ["Lola"], "a small dog and a grey cat sharing a sunny windowsill", UNKNOWN_CAT),
    Scene("other animals", ["Lola"], "a chihuahua sniffing a kitten on a rug", UNKNOWN_CAT),
    Scene("other animals", ["Lola"], "a small dog playing with a big golden retriever in a park", UNKNOWN_DOG),
    Scene("other animals", ["Lola"], "a chihuahua meeting a husky on a sidewalk", UNKNOWN_DOG),
    Scene("other animals", ["Pico"], "a puppy watching a cat sleeping on a chair", UNKNOWN_CAT),
    Scene("other animals", ["Pico"], "a puppy and a big dog sharing a stick", UNKNOWN_DOG),
    Scene("other animals", ["Lola"], "a small dog looking at birds on a fence", {"animals": [{"label": "bird",
                                                                                              "pet": None}]}),
    Scene("other animals", ["Lola"], "a chihuahua staring at a rabbit in a garden", {"animals": [{"label": "rabbit",
                                                                                                  "pet": None}]}),
    Scene("one pet", ["Pico"], "a puppy sitting in a flower bed"),
    Scene("one pet", ["Pico"], "a black and tan puppy asleep on a pile of shoes"),
    Scene("two pets", ["Pico", "Lola"], "a puppy sleeping on top of a small dog"),
    Scene("two pets", ["Lola", "Pico"], "two chihuahuas sitting in the sun on a terrace"),
    Scene("people", ["Lola"], "a small dog sitting between two children on a step"),
    Scene("people", ["Pico"], "a man in a hat carrying a puppy in his arms"),
    Scene("other animals", ["Pico"], "a puppy barking at a duck by a pond", {"animals": [{"label": "bird",
                                                                                         "pet": None}]}),
    Scene("other animals", ["Lola"], "a small dog lying next to a sleeping cat on a bed", UNKNOWN_CAT),
    Scene("pet absent", [], "a pile of chewed toys on a carpet", NO_ANIMAL),
    Scene("pet absent", [], "a small pink dog sweater hanging on a chair", NO_ANIMAL),
    Scene("pet absent", [], "a leash hanging by a front door", NO_ANIMAL),
    Scene("pet absent", [], "a dog bowl full of water on a balcony", NO_ANIMAL),
    Scene("owner hint", ["Lola"], "a small dog lying on a blanket", hint="she turns five today"),
    Scene("owner hint", ["Lola"], "a chihuahua in a carrier bag", hint="on our way to grandma's house"),
    Scene("owner hint", ["Pico"], "a puppy with a cone around his neck", hint="he is recovering from a small surgery"),
    Scene("owner hint", ["Pico"], "a puppy sitting on grass", hint="his first day at puppy school"),
    Scene("owner hint", ["Lola", "Pico"], "two small dogs on a sofa", hint="they finally share the sofa"),
    Scene("owner hint", ["Lola", "Pico"], "two small dogs next to a suitcase", hint="we are going on holiday"),
    Scene("start", ["Lola"], "a small dog lying on a pillow", start="Monday mood"),
    Scene("start", ["Lola"], "a chihuahua wearing sunglasses", start="Too cool"),
    Scene("start", ["Pico"], "a puppy hiding under a blanket", start="Where is"),
    Scene("start", ["Pico"], "a puppy with muddy paws", start="Oops"),
    Scene("start", ["Lola", "Pico"], "two small dogs eating from their bowls", start="Dinner time"),
    Scene("start", ["Lola", "Pico"], "two small dogs in a garden", start="Best friends"),
    Scene("theme", ["Lola"], "a small dog in a santa hat", day="2026-12-25T12:00:00+00:00"),
    Scene("theme", ["Pico"], "a puppy next to a wrapped present", day="2026-12-25T12:00:00+00:00"),
    Scene("theme", ["Lola"], "a chihuahua in a witch costume", day="2026-10-31T12:00:00+00:00"),
    Scene("theme", ["Pico"], "a puppy sniffing a carved pumpkin", day="2026-10-31T12:00:00+00:00"),
    Scene("theme", ["Lola"], "a small dog sleeping on a sofa", day="2026-05-15T12:00:00+00:00"),  # a Friday
    Scene("theme", ["Pico"], "a puppy sitting by a window", day="2026-05-15T12:00:00+00:00"),
    Scene("theme", ["Lola", "Pico"], "two small dogs in sweaters on a snowy path", day="2027-01-20T12:00:00+00:00"),
    Scene("theme", ["Lola", "Pico"], "two small dogs under a blanket", day="2027-02-02T12:00:00+00:00"),  # winter
]

# The explicit split: the first of each pair is tuned on, the second is held out and only measured.
HALVES = {"original": SCENES, "tune": NEW_SCENES[0::2], "held-out": NEW_SCENES[1::2]}
