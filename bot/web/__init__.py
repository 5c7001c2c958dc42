"""The local review site (`pawpost web`, or inside `pawpost run` with [web] enabled): review, correct, approve
and reschedule drafts from a phone, through the same services as the CLI.

This file imports nothing; the app is built by `bot.web.routes.create_app`.
"""
