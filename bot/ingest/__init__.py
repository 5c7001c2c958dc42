"""Ingest: inbox files become recorded photos (new, duplicate or quarantined) and wait in the processing queue.

The watcher, the inbox rules, the file checks, hints and the queue of photos due for processing.
"""
