"""Captions in the account's own voice: prompts, generation backends, rules and ranking.

The caption stage (`Captioner`, `draft_analyzed`, `draft_photos`, `draft_posts`) lives in `bot.captions.stage`;
this file imports nothing, so importing the rules never pulls in the stage or the models.
"""
