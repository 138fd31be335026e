"""Property: however the network cuts a recorded stream, the decoded answer is the same.

Every recorded stream of every provider is re-chunked at random byte positions (inside JSON,
inside UTF-8 characters, between `\\r` and `\\n`) and decoded; the text, reasoning, tool calls,
finish, usage and error must equal the recording's expected non-streamed result, and the
event sequence must equal the one decoded from the unbroken stream.
"""

import itertools
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.assembler import assemble
from runtime.contract import EventBase
from tests.fakes.recorded import decode, expected, providers, recording, scenarios, summarize
from tests.runtime.adapters import outline

RECORDINGS = [(provider, scenario) for provider in providers() for scenario in scenarios(provider)]


@cache
def whole(provider: str, scenario: str) -> list[EventBase]:
    return decode(provider, [recording(provider, scenario)])


def cut(stream: bytes, positions: list[int]) -> list[bytes]:
    bounds = [0, *sorted(set(positions)), len(stream)]
    return [stream[start:end] for start, end in itertools.pairwise(bounds)]


def test_every_provider_has_recordings() -> None:
    assert providers() == ["anthropic", "openai", "openai-responses", "openrouter"]
    assert all(len(scenarios(provider)) >= 12 for provider in providers())


@pytest.mark.parametrize(("provider", "scenario"), RECORDINGS)
@settings(max_examples=50, deadline=None, database=None)
@given(data=st.data())
def test_any_chunking_gives_the_same_answer(
    provider: str, scenario: str, data: st.DataObject
) -> None:
    stream = recording(provider, scenario)
    positions = data.draw(
        st.lists(st.integers(min_value=1, max_value=len(stream) - 1), max_size=80),
        label="cuts",
    )
    events = decode(provider, cut(stream, positions))
    assert summarize(assemble(events)) == expected(provider, scenario)
    assert outline(events) == outline(whole(provider, scenario))
