"""The SSE parser against the event-stream rules and the ways providers bend them."""

import pytest

from runtime.sse import SseEvent, SseParser


def parse(*chunks: bytes) -> list[SseEvent]:
    parser = SseParser()
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    return events + parser.close()


def test_unnamed_and_named_events() -> None:
    stream = b'data: {"a":1}\n\nevent: ping\ndata: {"type":"ping"}\n\n'
    assert parse(stream) == [
        SseEvent(None, '{"a":1}'),
        SseEvent("ping", '{"type":"ping"}'),
    ]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending(ending: bytes) -> None:
    stream = b"event: a" + ending + b"data: one" + ending + ending + b"data: two" + ending + ending
    assert parse(stream) == [SseEvent("a", "one"), SseEvent(None, "two")]


def test_crlf_split_between_the_cr_and_the_lf() -> None:
    # A naive parser sees the `\r` as one line ending and the `\n` as a second (blank) line,
    # dispatching the event before its data is complete.
    events = parse(b"data: one\r", b"\ndata: two\r", b"\n\r", b"\n")
    assert events == [SseEvent(None, "one\ntwo")]


def test_multi_line_data_joins_with_newlines() -> None:
    assert parse(b"data: first\ndata: second\ndata:\n\n") == [SseEvent(None, "first\nsecond\n")]


def test_comments_are_skipped_and_never_data() -> None:
    stream = b': OPENROUTER PROCESSING\n\n:\n: {"json": true}\ndata: real\n\n'
    assert parse(stream) == [SseEvent(None, "real")]


def test_field_without_space_and_field_without_colon() -> None:
    # Only one leading space is removed; a line without a colon is a field with no value.
    assert parse(b"data:tight\ndata:  two spaces\ndata\n\n") == [
        SseEvent(None, "tight\n two spaces\n")
    ]


def test_id_retry_and_unknown_fields() -> None:
    assert parse(b"id: 7\nretry: 3000\nfoo: bar\ndata: x\n\ndata: y\n\n") == [
        SseEvent(None, "x", "7"),
        SseEvent(None, "y", "7"),  # the last event id persists, as browsers keep it
    ]


def test_blank_lines_without_data_dispatch_nothing() -> None:
    assert parse(b"\n\n\nevent: lonely\n\n") == []


def test_event_name_does_not_leak_into_the_next_event() -> None:
    assert parse(b"event: a\ndata: 1\n\ndata: 2\n\n") == [SseEvent("a", "1"), SseEvent(None, "2")]


def test_split_inside_a_multibyte_character() -> None:
    stream = "data: Zürich 🌍 日本\n\n".encode()
    for cut in range(1, len(stream)):
        assert parse(stream[:cut], stream[cut:]) == [SseEvent(None, "Zürich 🌍 日本")], cut


def test_byte_by_byte() -> None:
    stream = "event: x\r\ndata: é\r\n\r\n: c\r\ndata: [DONE]\r\n\r\n".encode()
    assert parse(*(stream[i : i + 1] for i in range(len(stream)))) == [
        SseEvent("x", "é"),
        SseEvent(None, "[DONE]"),
    ]


def test_final_event_without_blank_line_is_dispatched_on_close() -> None:
    assert parse(b"data: one\n\ndata: last") == [SseEvent(None, "one"), SseEvent(None, "last")]
    assert parse(b"data: last\n") == [SseEvent(None, "last")]


def test_byte_order_mark_at_the_start_is_ignored() -> None:
    assert parse(b"\xef\xbb\xbfdata: x\n\n") == [SseEvent(None, "x")]


def test_empty_feeds_keep_state() -> None:
    assert parse(b"data: a\r", b"", b"\n\n") == [SseEvent(None, "a")]
