"""Captions in the account's own voice: prompts, generation backends, rules and ranking."""
