"""bot/drafts/lifecycle.py: every "can this draft be ..." rule in one table that agrees with the store's transitions,
and the services (approve, edit, reject, reschedule, regenerate's check, post, resend, confirm) refusing through it."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from bot import timeutil
from bot.drafts import actions, review
from bot.drafts.lifecycle import MOVES, WHEN, Action, can, refusal, require
from bot.errors import NotAllowed
from bot.store.states import DRAFT_TRANSITIONS, DraftStatus, PublishState
from tests.bot.drafts.test_actions import add_draft


@pytest.mark.parametrize("action", list(Action))
def test_every_action_moves_only_as_the_transition_table_allows(action: Action) -> None:
    target = MOVES[action]
    for status in WHEN[action]:
        if target is not None:
            assert target in DRAFT_TRANSITIONS[status], (action, status)
        elif action not in (Action.CORRECT_PETS, Action.RECONCILE):
            # Staying put is itself a transition the store checks (a new caption, a new time).
            assert status in DRAFT_TRANSITIONS[status], (action, status)


def test_the_owners_words_for_each_refusal() -> None:
    posted = {"id": 7, "status": DraftStatus.POSTED, "media_url": "https://www.instagram.com/p/X/"}
    assert refusal(Action.APPROVE, posted) == ("draft 7 is posted; only pending, approved or failed drafts can be "
                                               "approved")
    assert refusal(Action.EDIT, posted) == "draft 7 is posted; only pending or approved drafts can be edited"
    assert refusal(Action.REJECT, posted) == "draft 7 is posted; only pending drafts can be rejected"
    assert refusal(Action.RESCHEDULE, posted) == ("draft 7 is posted; only approved drafts can be rescheduled "
                                                  "(approve it first)")
    assert refusal(Action.RESTORE, posted) == "draft 7 is posted; only rejected drafts can be restored"
    assert refusal(Action.POST, posted) == ("draft 7 is already posted (https://www.instagram.com/p/X/); a draft is "
                                            "posted at most once")
    assert refusal(Action.RESEND, posted) == "draft 7 is posted; only an unsettled draft (publishing) can be resent"
    assert refusal(Action.CORRECT_PETS, posted) is None
    started = {"id": 7, "status": DraftStatus.PUBLISHING, "publish_state": PublishState.STARTED}
    assert refusal(Action.CONFIRM_POSTED, started) == "draft 7 was never sent; it goes back to approved by itself"
    assert refusal(Action.CONFIRM_POSTED, {**started, "publish_state": PublishState.WITH_OWNER}) is None


def test_require_raises_the_refusal_with_its_facts() -> None:
    with pytest.raises(NotAllowed) as caught:
        require(Action.REGENERATE, {"id": 3, "status": DraftStatus.APPROVED})
    assert (caught.value.draft_id, caught.value.status, caught.value.action) == (3, "approved", "regenerate")
    assert str(caught.value) == "draft 3 is approved; only pending drafts can be regenerated"


@pytest.mark.parametrize(("action", "status"), list(itertools.product(Action, DraftStatus)))
def test_can_is_the_table(action: Action, status: DraftStatus) -> None:
    assert can(action, status) == (status in WHEN[action])
    assert can(action, status) == (refusal(action, {"id": 1, "status": status}) is None)


SERVICES = {
    Action.APPROVE: lambda store, config, d: actions.approve(store, config, d),
    Action.EDIT: lambda store, config, d: actions.edit(store, config, d, "A new caption"),
    Action.REJECT: lambda store, config, d: actions.reject(store, d),
    Action.RESCHEDULE: lambda store, config, d: review.reschedule(store, config, d, None),
}


@pytest.mark.parametrize(("action", "status"), list(itertools.product(SERVICES, DraftStatus)))
def test_the_services_ask_the_lifecycle(store, config, action: Action, status: DraftStatus) -> None:
    draft_id = add_draft(store, status.value)
    if can(action, status):
        SERVICES[action](store, config, draft_id)
    else:
        with pytest.raises(NotAllowed) as caught:
            SERVICES[action](store, config, draft_id)
        assert str(caught.value) == refusal(action, store.draft(draft_id))
        assert store.draft(draft_id)["status"] == status


def test_a_draft_moved_to_a_past_time_is_refused_with_the_time(store, config) -> None:
    from bot.errors import TimeHasPassed

    draft_id = add_draft(store, "approved")
    past = timeutil.now() - timedelta(hours=1)
    with pytest.raises(TimeHasPassed) as caught:
        review.reschedule(store, config, draft_id, past)
    assert caught.value.at == past and "--at" not in str(caught.value)
