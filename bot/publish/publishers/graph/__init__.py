"""The official-API publisher: `publisher` (its `PUBLISHER` and the posting itself) and, beside it, `api` (one
request, its failure decided), `answers` (error bodies read as evidence), `token` (the long-lived access token,
renewed by the daemon) and `doctor` (its checks).
"""
