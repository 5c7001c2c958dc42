"""The contract with instagrapi: every behaviour of the pinned version that pawpost relies on or overrides.

Run this first when upgrading instagrapi (README, "instagrapi is pinned"): a failure names the assumption that broke.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

import pytest

from bot.publish.publishers.instagrapi.answers import evidence
from bot.publish.publishers.instagrapi.session import _client_class
from bot.publish.transport import never_sent
from tests.bot.publish.conftest import CLIENT, jpeg
from tests.bot.publish.fake_instagram import CHALLENGE, Answer, Lost, NotSent
from tests.conftest import REPO

PINNED = "3.2.2"
# One test shows instagrapi's own resend making a second post (why pawpost overrides it).
DOUBLE_POSTS_EXPECTED = True


def test_the_installed_instagrapi_is_the_pinned_one():
    assert version("instagrapi") == PINNED
    pyproject = (REPO / "pyproject.toml").read_text()
    assert f'"instagrapi=={PINNED}"' in pyproject


def test_the_private_methods_pawpost_overrides_still_exist_with_their_signatures():
    from instagrapi import Client

    send = inspect.signature(Client._send_private_request)
    assert list(send.parameters)[:3] == ["self", "endpoint", "data"]
    assert inspect.signature(Client._build_private_session_retry_strategy).parameters.keys() == {"self"}
    assert "private_transport" in inspect.signature(Client._configure_private_session_retry).parameters
    assert callable(Client._configure_public_session_retry)
    for attribute in ("last_response", "last_json", "private_transport"):
        assert hasattr(Client, attribute)
    client = Client(private_transport="requests", with_challenge_flow=False)
    assert client.private_transport == "requests"
    for handler in ("challenge_code_handler", "change_password_handler"):
        assert callable(getattr(client, handler))


def _clients(config, store):
    from bot.publish.publishers.instagrapi.session import make_client

    ours = make_client(config, store, **CLIENT)
    from instagrapi import Client

    plain = Client(settings=ours.get_settings(), private_transport="requests", request_timeout=0)
    return ours, plain


def test_instagrapi_itself_resends_a_timed_out_post_and_pawposts_client_does_not(ig_config, ig_store, fake,
                                                                                    logged_in, tmp_path):
    ours, plain = _clients(ig_config, ig_store)
    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg())
    upload_id, w, h = ours.photo_rupload(photo)

    from instagrapi.exceptions import ClientConnectionError

    fake.fail_next("configure", Answer(408, "", lands=True))
    with pytest.raises(ClientConnectionError):  # pawpost's UnansweredPost: not sent again
        ours.photo_configure(upload_id, w, h, "ours")
    assert fake.count("configure") == 1

    fake.fail_next("configure", Answer(408, "", lands=True))
    plain.photo_configure(upload_id, w, h, "plain")  # the library's own retry: a second configure
    assert fake.count("configure") == 3 and fake.posts_with("plain") == 2  # why PawpostClient exists


def test_an_error_answer_is_kept_on_the_client_and_on_the_error(ig_config, ig_store, fake, logged_in, tmp_path):
    from instagrapi.exceptions import ChallengeRequired, PhotoNotUpload

    ours, _ = _clients(ig_config, ig_store)
    fake.fail_next("configure", CHALLENGE)
    with pytest.raises(ChallengeRequired) as raised:
        ours.photo_configure("1", 400, 500, "x")
    assert ours.last_response.status_code == 400  # set before instagrapi raises: what pawpost reads
    assert evidence(raised.value, ours).refusal.kind == "fatal"

    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg())
    fake.fail_next("upload", CHALLENGE)
    with pytest.raises(PhotoNotUpload) as upload:
        ours.photo_rupload(photo)
    # instagrapi fills PhotoNotUpload's fields from the *previous* request's JSON: only its response is the upload's.
    assert upload.value.response.status_code == 400 and b"challenge_required" in upload.value.response.content


@pytest.mark.parametrize(("answer", "sent"), [(NotSent("refused"), False), (NotSent("dns"), False),
                                              (Lost("timeout", lands=False), True), (Lost("reset"), True)])
def test_transport_errors_keep_their_cause_through_instagrapi(ig_config, ig_store, fake, logged_in, answer, sent):
    ours, _ = _clients(ig_config, ig_store)
    fake.fail_next("configure", answer)

    with pytest.raises(Exception) as raised:  # instagrapi's wrapper, or the transport's own error
        ours.photo_configure("1", 400, 500, "x")

    assert never_sent(raised.value) is not sent


def test_pawposts_client_is_instagrapis_client():
    from instagrapi import Client

    assert issubclass(_client_class(), Client)


def test_a_carousel_is_uploads_named_by_pawpost_then_one_configure_sidecar(ig_config, ig_store, fake, logged_in,
                                                                         tmp_path):
    # The instagrapi publisher posts a carousel as album_upload does, a step at a time: photo_rupload with its own
    # upload_id and to_album, then album_configure, whose children_metadata carries each child's fields as given.
    from instagrapi.exceptions import ClientConnectionError

    ours, _ = _clients(ig_config, ig_store)
    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg())
    children = []
    for n in range(2):
        upload_id, _, _ = ours.photo_rupload(photo, upload_id=f"17000000000{n}", to_album=True)
        assert upload_id == f"17000000000{n}"
        children.append({"upload_id": upload_id, "custom_accessibility_caption": f"alt {n}"})
    assert list(fake.uploads) == ["170000000000", "170000000001"]

    fake.fail_next("configure_sidecar", Answer(408, "", lands=True))
    with pytest.raises(ClientConnectionError):  # pawpost's UnansweredPost: not sent again
        ours.album_configure(children, "two of us")
    assert fake.count("configure_sidecar") == 1 and fake.posts_with("two of us") == 1
    assert [c["accessibility_caption"] for c in fake.media[0]["carousel_media"]] == ["alt 0", "alt 1"]
