"""Exponential backoff between restarts, so a runtime that cannot start does not spin."""


class Backoff:
    """`initial * 2**n` for the n-th consecutive delay, never above `maximum`."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self.attempts = 0

    def next_delay(self) -> float:
        # A capped exponent keeps 2.0**n a finite float however long a runtime crash-loops.
        delay = min(self.initial * 2.0 ** min(self.attempts, 64), self.maximum)
        self.attempts += 1
        return delay

    def reset(self) -> None:
        self.attempts = 0
