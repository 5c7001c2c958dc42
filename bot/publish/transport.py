"""The one transport rule of every publisher that speaks HTTP: which errors prove a request never left this machine
(no connection, no name, no TLS, connect timeout), so that the outcome table may call it "not sent".
"""

from __future__ import annotations


def never_sent(exc: BaseException | None) -> bool:
    """True when the error happened before the request left: no connection, no name, no TLS, connect timeout.

    Looks through the whole chain (instagrapi re-raises transport errors as its own), and through the requests
    transport (urllib3 reasons) and the curl transport (curl error codes) alike. Everything else may have been sent.
    """
    import requests
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NameResolutionError, NewConnectionError
    from urllib3.exceptions import SSLError as Urllib3SSLError

    before_send = (ConnectTimeoutError, NewConnectionError, NameResolutionError, Urllib3SSLError,
                   requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)
    for err in chain(exc):
        if isinstance(err, before_send):
            return True
        if isinstance(err, MaxRetryError) and isinstance(err.reason, before_send):
            return True
        # curl_cffi: couldn't resolve proxy / host, couldn't connect, TLS connect error.
        if type(err).__module__.startswith("curl_cffi") and getattr(err, "code", None) in (5, 6, 7, 35):
            return True
    return False


def chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    todo = [exc] if exc is not None else []
    while todo:
        err = todo.pop()
        if err is None or any(err is s for s in seen) or len(seen) > 20:
            continue
        seen.append(err)
        todo += [err.__cause__, err.__context__, getattr(err, "reason", None)]
        todo += [a for a in getattr(err, "args", ()) if isinstance(a, BaseException)]
    return seen
