"""The key-value table's keys: every small fact pawpost keeps in `kv` (store.get/put) is named here, once.

A key with `{}` is one per thing (a draft, a model, a login token): fill it with `.format(...)`. The module that
writes a fact owns its meaning; this module only makes sure two modules never spell one fact two ways.
"""

from __future__ import annotations

# -- posting: the gate (bot.publish.gate) and the poster ---------------------------------------------
POSTING_STOPPED = "posting_stopped"  # the owner's sentence: what stopped posting and what to do
COOLDOWN_UNTIL = "cooldown_until"  # ISO time: Instagram asked to slow down until then
LAST_PUBLISH_ERROR = "last_publish_error"  # the last publishing error with its class (status's last_error)
UNSETTLED = "unsettled:{}"  # per draft id: the attempt that may have posted and the looks for it

# -- the schedule (bot.publish.slots) ----------------------------------------------------------------
SCHEDULE_LAST_FIRED = "schedule_last_fired"  # ISO time of the latest slot that fired (or was passed over)
SCHEDULE_SALT = "schedule_salt"  # this install's jitter salt

# -- the official API's token (the graph publisher) -------------------------------------------------
GRAPH_TOKEN_ERROR = "graph_token_error"  # why the last renewal failed
GRAPH_TOKEN_TRIED = "graph_token_tried"  # ISO time of the last renewal attempt

# -- models ------------------------------------------------------------------------------------------
MODEL_ERROR = "model_error:{}"  # per model key (detector, embedder, captioner, ...): why it did not load
MODEL_ERROR_SINCE = "model_error_since:{}"  # per model key: ISO time of the first failure since it last worked
GPU_BATCHES = "gpu_batches"  # batch sizes that fit the GPU (bot.runtime.budget)

# -- the review site and notifications -----------------------------------------------------------------
WEB_LOGIN = "web_login:{}"  # per one-time login token's digest: when it expires
WEB_SESSION_VERSION = "web_session_version"  # sessions issued under an older version have ended
WEB_SESSION_ENDED = "web_session_ended:{}"  # per logged-out session's nonce: when its cookie would expire
CONFIRM_LINK = "confirm_link:{}"  # per "I posted it" token's digest: {draft_id, expires} (bot.publish.confirm_links)
NOTIFY_LAST_EVENT = "notify:last_event"
NOTIFY_REVIEW_SENT_AT = "notify:review_sent_at"
NOTIFY_REVIEW_LAST_DRAFT = "notify:review_last_draft"
NOTIFY_LAST_RETRAIN = "notify:last_retrain"
NOTIFY_PENDING = "notify:pending"  # messages said but not yet delivered (a stop came first): sent at the next round
