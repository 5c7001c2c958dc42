"""The words of every caption prompt, in one place, so they can be tuned without touching any logic.

Placeholders are `str.format` fields; `bot/captions/prompt.py` fills them and leaves out empty sentences. Small
models continue what they see, so the prompt is plain sentences (no labelled lists), the style examples are
marked as examples of tone, and the instruction comes last.
"""

from __future__ import annotations

# The system message (chat models) or the first paragraph (plain prompts). When the voice is the first person
# and a pet is in the photo, the model writes as that pet. Not "You are Lola the dog": a small model answers
# that with "I am Lola the dog" instead of saying what the photo shows.
SYSTEM = "You write short Instagram captions for a pet's account."
SYSTEM_AS_PET = "You write short Instagram captions for {name}, a {species}, as if {name} wrote them."
SPEAKER_PERSONALITY = " {name} is {personality}."

# One sentence (or two) per pet present in the photo.
PET = "{name} is a {species}."
PET_PERSONALITY = " {name} is {personality}."

# The facts about the photo, each a sentence; one that is empty is left out.
NO_PET = "None of the account's pets is in this photo."
NO_PET_SET = "None of the account's pets is in these photos."
NO_PET_VIDEO = "None of the account's pets is in this video."
# A post of several photos (a carousel): said first, and the instruction is about all of them.
SET = "The post is a carousel of {count} photos; write one caption for all of them."
# A post of one video clip (a Reel): said first; a chat VLM sees some of its frames, in order.
VIDEO = "The post is a short video; the pictures are frames from it, in order."
THEME = "The theme of the day is {theme}."
HINT = "The owner says about this photo: {hint}."
HINT_SET = "The owner says about these photos: {hint}."
HINT_VIDEO = "The owner says about this video: {hint}."
# What vision found besides the pets (bot.captions.context.scene_from_analysis); the caption must not parrot them.
NO_ANIMAL_SEEN = "no animal could be seen clearly"
STRANGERS = "also {animals}, not one of the account's pets"
# Past captions, without their hashtags: they teach the tone, the rules add the hashtags.
EXAMPLES = "Earlier captions of the account, only as examples of its tone (do not copy them):\n{examples}"
EXAMPLE = "\"{caption}\""

# The instruction, last, plain.
# {photo}: THIS_PHOTO, THESE_PHOTOS for a carousel, or THIS_VIDEO for a Reel.
TASK_WITH_NAME = "Write one new, short caption for {photo} of {names}, in this voice: {voice}."
TASK = "Write one new, short caption for {photo}, in this voice: {voice}."
TASK_AS_PET = "Write one new, short caption for {photo} of you, in this voice: {voice}."
TASK_AS_PET_WITH = "Write one new, short caption for {photo} of you and {names}, in this voice: {voice}."
THIS_PHOTO = "this photo"
THESE_PHOTOS = "these photos"
THIS_VIDEO = "this video"
# Not "do not say your name": told that, a small model opens every candidate with "My name is Lola".
FIRST_PERSON = "Speak as {name}, saying \"I\" and \"my\"."
# What the photo shows, inside the instruction, asking for one detail of it: a small model then picks it up.
SCENE_DETAIL = "Say one thing about what the photo shows: {scene}."
# A carousel's facts, each photo's said once in post order (bot.captions.context.merge_facts).
SCENE_DETAIL_SET = "Say one thing about what the photos show: {scene}."
SCENE_DETAIL_VIDEO = "Say one thing about what the video shows: {scene}."
# Nothing about other names: a small model told not to give names writes "My name is ..." (the rules refuse
# invented names instead).
NAME_THEM = "Mention {names} by name."
NAME_NONE = "Do not name any pet."
ONLY_CAPTION = "Answer with the caption only, in one line, without hashtags."

# The caption's first words when the pet speaks and the owner gave none: the assistant's answer is primed with
# them (a small model told to say "I" still writes "Lola, the dog ..." in the third person). {others}: the other
# pets in the photo, by name.
# One is chosen per photo, so that an account's captions do not all begin alike.
LEADS_AS_PET = ("I", "My")
LEADS_AS_PET_WITH = ("{others} and I", "Me and {others}")

# How the writer (a text-only model) is told about the photo when it has no chat template.
PLAIN = "{system}\n\n{user}\n\nCaption:"

# Joins the facts, the examples and the instruction.
SECTION_SEPARATOR = "\n\n"

# The describer's text prefix (BLIP and GIT continue it; empty means an unconditional description).
DESCRIBE_PREFIX = ""
