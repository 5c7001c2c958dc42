"""The words of every caption prompt, in one place, so they can be tuned without touching any logic.

Placeholders are `str.format` fields; `bot/captions/prompt.py` fills them and leaves out empty sections.
"""

from __future__ import annotations

# The system message (chat models) or the first paragraph (plain prompts).
SYSTEM = (
    "You write Instagram captions for a pet's account, in the account's own voice. "
    "Voice: {voice}. "
    "Write one caption only: no title, no quotes, no explanation, at most {max_hashtags} hashtags."
)

# One line per pet present in the photo.
PET = "- {name}, a {species}{description}{personality}"
PET_DESCRIPTION = ": {description}"
PET_PERSONALITY = ". Personality: {personality}"

# Sections of the user message, in this order; a section whose value is empty is left out.
PETS_SECTION = "In this photo:\n{pets}"
NO_PET_SECTION = "No pet of the account was recognised in this photo; do not name one."
SCENE_SECTION = "What the photo shows: {scene}"
THEME_SECTION = "Theme of the day: {theme}"
HINT_SECTION = "A note from the owner about this photo (the photo cannot show this): {hint}"
EXAMPLES_SECTION = "Past captions of this account, to match their style (do not copy them):\n{examples}"
EXAMPLE = "- {caption}"
TASK_WITH_NAME = "Write a new caption for this photo about {names}, and mention {names} by name."
TASK = "Write a new caption for this photo."

# How the writer (a text-only model) is told about the photo when it has no chat template.
PLAIN = "{system}\n\n{user}\n\nCaption:"

# Joins sections of the user message.
SECTION_SEPARATOR = "\n\n"

# The describer's text prefix (BLIP and GIT continue it; empty means an unconditional description).
DESCRIBE_PREFIX = ""
