"""A dry-run post killed half-way (between the photo and its record, inside the record's write) leaves nothing
behind in the outbox once the poster starts again; posts that were made, and the owner's own files, stay."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.bot.publish.conftest import make_draft
from tests.bot.publish.test_poster import SLOT

KILLED_POST = textwrap.dedent("""
    import os, signal, sys
    from bot.config import load_config
    from bot.publish.poster import Poster
    import bot.publish.publishers.dryrun as dryrun
    from bot.store.database import Store
    from bot import timeutil

    config = load_config(sys.argv[1])
    config.schedule.jitter_minutes = 0
    real = dryrun.write_atomic

    def dies_writing_the_record(path, data, **kw):
        if path.suffix != ".json":
            return real(path, data, **kw)
        # Half the record in the temp file write_atomic uses, then the process is killed (power cut, OOM killer).
        with open(path.with_name(f".{path.name}.k1ll3d.tmp"), "wb") as fh:
            fh.write(data[: len(data) // 2])
        os.kill(os.getpid(), signal.SIGKILL)

    dryrun.write_atomic = dies_writing_the_record
    store = Store.for_config(config)
    Poster(store, config, dryrun.DryRunPublisher(config.paths.outbox)).tick(timeutil.parse(sys.argv[2]))
""")


def test_a_post_killed_half_way_leaves_no_temp_or_orphan_after_the_next_start(config, store, poster, home):
    from bot import timeutil

    first = make_draft(store, "Posted whole #chihuahua")
    assert poster.tick(SLOT).status == "posted"
    outbox = config.paths.outbox
    (outbox / "notes.txt").write_text("the owner's own file\n")
    make_draft(store, "Killed half-way #chihuahua")

    killed = subprocess.run([sys.executable, "-c", KILLED_POST, str(home / "pawpost.toml"),
                             timeutil.iso(SLOT.replace(hour=19, minute=0))], capture_output=True, text=True,
                            timeout=120)
    assert killed.returncode == -9, killed.stderr
    left = sorted(p.name for p in outbox.iterdir())
    assert any(n.endswith(".tmp") for n in left) and len([n for n in left if n.endswith(".jpg")]) == 2

    from bot.publish.factory import make_poster

    again = make_poster(store, config)  # the next start
    try:
        again.tick(SLOT.replace(day=21, hour=9))
    finally:
        again.close()

    names = sorted(p.name for p in outbox.iterdir())
    assert not [n for n in names if n.endswith(".tmp")], names
    for jpg in [n for n in names if n.endswith(".jpg")]:
        assert jpg[:-4] + ".json" in names, names
    assert "notes.txt" in names
    assert store.draft(first)["status"] == "posted"
