"""The restart delays: doubling from the initial value, capped, and reset on demand."""

from controlplane.supervisor.backoff import Backoff


def test_delays_double_up_to_the_cap() -> None:
    backoff = Backoff(0.5, 4.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_reset_starts_again_from_the_initial_delay() -> None:
    backoff = Backoff(0.5, 30.0)
    backoff.next_delay()
    backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_a_long_crash_loop_stays_at_the_cap() -> None:
    backoff = Backoff(0.5, 30.0)
    delays = [backoff.next_delay() for _ in range(5_000)]
    assert delays[-1] == 30.0
