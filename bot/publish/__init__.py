"""Publishing: the publisher seam (`base`; the publishers themselves are in `publishers/`, behind its registry),
photo preparation, the posting gate, and exactly-once posting.

This file imports nothing: callers name the module they need (`bot.publish.poster`, `bot.publish.gate`, ...), so
importing one part never loads the others, and a publisher's libraries load only when that publisher is used.
"""
