"""Adding up token usage as providers report it.

Providers report usage two ways. Anthropic sends running totals (`message_start`, then every
`message_delta`), so a later report *replaces* the earlier one; adding them would count the
same tokens twice. OpenAI-shaped providers send one report per turn, an increment that adds.
Each field is tracked on its own: Anthropic's `message_delta` usually repeats only
`output_tokens`, and the `input_tokens` from `message_start` must survive it.

One counter can span a run of several turns: `end_turn()` settles the current turn's running
totals, so the next turn's cumulative reports start again from zero instead of replacing them.
"""

from runtime.contract import TokenTotals, Usage

FIELDS = ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")


class UsageCounter:
    def __init__(self) -> None:
        self._settled: dict[str, int] = {}  # increments, and the running totals of ended turns
        self._running: dict[str, int] = {}  # this turn's latest cumulative report per field

    def add(self, usage: Usage) -> None:
        for name in FIELDS:
            value = getattr(usage, name)
            if value is None:
                continue
            if usage.cumulative:
                self._running[name] = value
            else:
                self._settled[name] = self._settled.get(name, 0) + value

    def add_totals(self, totals: TokenTotals | None) -> None:
        """A finished turn's totals (its `run.finish.usage`), added as an increment."""
        if totals is None:
            return
        for name in FIELDS:
            value = getattr(totals, name)
            if value is not None:
                self._settled[name] = self._settled.get(name, 0) + value

    def end_turn(self) -> None:
        """The turn is over: its cumulative figures become fixed, the next turn's start at 0."""
        for name, value in self._running.items():
            self._settled[name] = self._settled.get(name, 0) + value
        self._running.clear()

    def totals(self) -> TokenTotals | None:
        """The sums so far, or None when no provider reported any usage at all."""
        names = set(self._settled) | set(self._running)
        if not names:
            return None
        return TokenTotals(
            **{
                name: self._settled.get(name, 0) + self._running.get(name, 0)
                for name in FIELDS
                if name in names
            }
        )
