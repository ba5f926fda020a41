"""The worker pool: a dead or stuck worker costs only its item; the run goes on and ends."""
import pytest

from gifemo.pool import WorkerPool
from pool_workers import Doubler


def outcomes(items, size=2, timeout=None):
    return {repr(o.item): (o.result, o.lost) for o in WorkerPool(size, Doubler, timeout=timeout).run(items)}


def test_a_killed_worker_loses_only_its_item():
    got = outcomes([1, 2, "die", 3, 4, 5])
    assert got.pop("'die'") == (None, "worker died: signal 9 (SIGKILL)")
    assert got == {repr(k): (2 * k, None) for k in (1, 2, 3, 4, 5)}


def test_every_worker_dying_still_ends_the_run():
    got = outcomes(["die", "die", "die", 7], size=1)
    assert list(got.values()) == [(None, "worker died: signal 9 (SIGKILL)"), (14, None)]
    assert len(list(WorkerPool(2, Doubler).run(["die"] * 5))) == 5


def test_a_stuck_worker_is_stopped_after_the_timeout():
    got = outcomes(["hang", 1], timeout=3)
    assert got == {"'hang'": (None, "worker stopped: no result after 3 s"), "1": (2, None)}


def test_a_setup_error_stops_the_run():
    with pytest.raises(LookupError, match="a model file is missing"):
        outcomes([1, "setup-error", 2, 3])
