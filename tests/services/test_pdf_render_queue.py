"""Renders waiting for their turn in a process's render pool (app/pdf/bounded.py, one child): the
deadline is a render's own time, not its wait in line. A worker runs ten jobs at once; under a burst
of confirmations each renders a bulletin (bench/multi_host.py), and on a busy host the last ones'
deadline expired while they waited — killing the pool, and every render in it, again and again."""

import time
from concurrent.futures import ThreadPoolExecutor

from app.pdf import bounded


def test_renders_queued_behind_others_each_get_their_whole_deadline():
    # Four renders of 1 s at once, a deadline of 2.5 s each: the last one waits 3 s for its turn.
    with ThreadPoolExecutor(4) as threads:
        outcomes = list(threads.map(lambda _: bounded.run(time.sleep, 1.0, timeout=2.5), range(4)))
    assert outcomes == [None, None, None, None]


def test_a_render_past_its_own_deadline_still_fails():
    try:
        bounded.run(time.sleep, 3.0, timeout=1.0)
    except bounded.RenderFailed as failed:
        assert "a dépassé 1 s" in str(failed)
    else:
        raise AssertionError("a render of 3 s met a deadline of 1 s")
