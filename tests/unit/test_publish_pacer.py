"""The Fleet's pacer: a thin stream of changes is published at once, a thick one at most `rate` a second."""

from __future__ import annotations

from itertools import pairwise

from mlops_tui.backends.pacing import PublishPacer


def publishes_for(arrivals: list[float], pacer: PublishPacer) -> list[float]:
    """Replay change arrival times through the publisher's rule: when each publish goes out."""
    out: list[float] = []
    pending_since: float | None = None
    next_free = 0.0
    for t in arrivals:
        if pending_since is not None and t >= next_free:  # the held-back publish went out before t
            pacer.published(next_free)
            out.append(next_free)
            pending_since = None
        if pending_since is not None:
            continue  # joins the publish already waiting
        wait = pacer.wait_before_next(t)
        if wait == 0:
            pacer.published(t)
            out.append(t)
        else:
            pending_since, next_free = t, t + wait
    if pending_since is not None:
        pacer.published(next_free)
        out.append(next_free)
    return out


def test_an_idle_operator_sees_every_change_at_once_even_in_the_tail_of_a_scale():
    """One scale sets off a dozen object changes over a second: each is published when it arrives."""
    arrivals = [0.0, 0.004, 0.03, 0.2, 0.45, 1.2, 1.21, 2.5]
    assert publishes_for(arrivals, PublishPacer(rate=10, burst=3)) == arrivals


def test_under_200_changes_a_second_the_screen_is_redrawn_at_most_rate_times_a_second():
    arrivals = [i / 200 for i in range(2000)]  # 10 s of churn
    published = publishes_for(arrivals, PublishPacer(rate=10, burst=3))
    assert len(published) <= 10 * 10 + 3
    gaps = [b - a for a, b in pairwise(published[3:])]
    assert min(gaps) >= 0.1 - 1e-9  # paced once the allowance is spent
    assert max(b - a for a, b in pairwise(published)) <= 0.1 + 0.005  # and never later than that


def test_after_a_quiet_spell_the_allowance_is_back():
    pacer = PublishPacer(rate=10, burst=3)
    for _ in range(3):
        pacer.published(5.0)
    assert pacer.wait_before_next(5.0) > 0
    assert pacer.wait_before_next(5.31) == 0


def test_rate_zero_never_waits():
    pacer = PublishPacer(rate=0, burst=1)
    for t in range(100):
        pacer.published(t / 1000)
        assert pacer.wait_before_next(t / 1000) == 0
