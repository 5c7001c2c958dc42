"""Publishing: the publisher seam (dry-run outbox, notify, the official API or instagrapi), photo preparation, the
posting gate, and exactly-once posting.

This file imports nothing: callers name the module they need (`bot.publish.poster`, `bot.publish.gate`, ...), so
importing one part never loads the others, and instagrapi loads only when the instagrapi publisher is used.
"""
