"""One poster tick in a process of its own, against the fake Instagram kept in a state file: for tests that SIGKILL
a publish between its request and its answer, or start a second daemon while the first is mid-publish.

    python -m tests.bot.publish.child_poster CONFIG STATE WHEN [SCRIPT_JSON]

SCRIPT_JSON: {"configure": {"kill": true, "lands": true}} or {"configure": {"hang": RELEASE, "started": FILE}}.
Prints the tick's result as JSON on stdout (if the process lives that long).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path


def main(argv: list[str]) -> None:
    import responses

    from bot.config import load_config
    from bot.publish.factory import make_poster
    from bot.publish.publishers.instagrapi.session import Transport, use_transport
    from bot.store.database import Store
    from tests.bot.publish.fake_instagram import FakeInstagram, Hang, Kill

    config_path, state, when_text = argv[:3]
    script = json.loads(argv[3]) if len(argv) > 3 else {}
    when = datetime.fromisoformat(when_text)
    fake = FakeInstagram(state=Path(state))
    fake.now = when.timestamp()
    for key, step in script.items():
        if step.get("kill"):
            fake.fail_next(key, Kill(lands=step.get("lands", True)))
        elif step.get("hang"):
            fake.fail_next(key, Hang(Path(step["hang"]), started=Path(step["started"])))
    config = load_config(config_path)
    store = Store.for_config(config)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps, use_transport(Transport.requests()):
        fake.install(rsps)
        # The same code path as the daemon's: make_poster picks the instagrapi publisher from the config, and
        # the transport seam (not a constructor patch) gives it the transport `responses` can answer.
        poster = make_poster(store, config)
        result = poster.tick(when)
        poster.close()
    print(json.dumps(result.to_json() if result else None))


if __name__ == "__main__":
    main(sys.argv[1:])
