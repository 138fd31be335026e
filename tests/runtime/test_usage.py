"""Adding up usage reports: cumulative ones replace, incremental ones add, field by field."""

from runtime.contract import TokenTotals, Usage
from runtime.usage import UsageCounter


def test_nothing_reported_is_none() -> None:
    assert UsageCounter().totals() is None


def test_cumulative_reports_replace_per_field() -> None:
    counter = UsageCounter()
    counter.add(Usage(input_tokens=100, output_tokens=1, cached_tokens=80, cumulative=True))
    counter.add(Usage(output_tokens=10, cumulative=True))
    counter.add(Usage(output_tokens=30, cumulative=True))
    assert counter.totals() == TokenTotals(input_tokens=100, output_tokens=30, cached_tokens=80)


def test_incremental_reports_add() -> None:
    counter = UsageCounter()
    counter.add(Usage(input_tokens=10, output_tokens=5, cumulative=False))
    counter.add(Usage(input_tokens=20, output_tokens=7, reasoning_tokens=3, cumulative=False))
    assert counter.totals() == TokenTotals(input_tokens=30, output_tokens=12, reasoning_tokens=3)


def test_end_turn_settles_running_totals_so_turns_add_up() -> None:
    counter = UsageCounter()
    counter.add(Usage(input_tokens=50, output_tokens=1, cumulative=True))
    counter.add(Usage(output_tokens=40, cumulative=True))
    counter.end_turn()
    counter.add(Usage(input_tokens=90, output_tokens=1, cumulative=True))
    counter.add(Usage(output_tokens=5, cumulative=True))
    assert counter.totals() == TokenTotals(input_tokens=140, output_tokens=45)


def test_mixed_cumulative_and_incremental() -> None:
    counter = UsageCounter()
    counter.add(Usage(output_tokens=3, cumulative=False))
    counter.add(Usage(output_tokens=10, cumulative=True))
    counter.add(Usage(output_tokens=12, cumulative=True))
    assert counter.totals() == TokenTotals(output_tokens=15)


def test_add_totals_of_finished_turns() -> None:
    counter = UsageCounter()
    counter.add_totals(TokenTotals(input_tokens=10, output_tokens=2))
    counter.add_totals(None)
    counter.add_totals(TokenTotals(input_tokens=5, cached_tokens=4))
    assert counter.totals() == TokenTotals(input_tokens=15, output_tokens=2, cached_tokens=4)


def test_zero_is_a_report() -> None:
    counter = UsageCounter()
    counter.add(Usage(cached_tokens=0, cumulative=False))
    assert counter.totals() == TokenTotals(cached_tokens=0)
