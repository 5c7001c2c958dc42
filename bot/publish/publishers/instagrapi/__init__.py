"""The instagrapi publisher (Instagram's private API): `publisher` (its `PUBLISHER` and the posting itself) and,
beside it, `session` (the client, its saved session and the login) and `answers` (the private API's error bodies
read as evidence). instagrapi itself loads only when a client is made.
"""
