"""`gatehouse run`'s parts: rendering, scripted tool answers and timings on recorded event
lists, and the run credential against the live control plane (issued, then revoked).

The whole path (CLI → proxy → runtime) is exercised by the end-to-end tests.
"""

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import typer
from fastapi import FastAPI
from sqlalchemy.orm import Session

from controlplane.cli.client import Api
from controlplane.cli.run import (
    Answer,
    Piece,
    ScriptedTool,
    Stopwatch,
    ToolAnswers,
    Transcript,
    exit_code,
    holds_runtime_invoke,
    parse_tools,
    run_credential,
    tool_spec,
)
from controlplane.container import Container
from runtime.client import ToolResult
from runtime.contract import (
    Error,
    EventBase,
    MemoryWriteEvent,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    RunFinish,
    RunStart,
    StreamChunk,
    TextEnd,
    TextStart,
    TokenTotals,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from runtime.guard import Sequencer
from tests import factories
from tests.controlplane.cli.helpers import Cli, assert_one_line_error
from tests.live import ServerThread


def start() -> RunStart:
    return RunStart(workspace_id="ws", agent_id="ag", provider="local", model="echo")


def call_start(n: int, name: str) -> ToolCallStart:
    return ToolCallStart(block_id=f"t{n}", tool_call_id=f"call_{n}", name=name, index=n)


def call_end(n: int, name: str, raw: str, parse_error: str | None = None) -> ToolCallEnd:
    return ToolCallEnd(
        block_id=f"t{n}",
        tool_call_id=f"call_{n}",
        name=name,
        arguments={},
        arguments_raw=raw,
        parse_error=parse_error,
    )


def usage() -> Usage:
    return Usage(input_tokens=3, output_tokens=4, cumulative=False)


def two_turns() -> list[EventBase]:
    """A recorded tool-calling run: reasoning, parallel calls with interleaved fragments, the
    turn's usage, then the answer and a memory write."""
    return Sequencer("run_1").stamp_all(
        [
            start(),
            ReasoningStart(block_id="r"),
            ReasoningDelta(block_id="r", text="need data"),
            ReasoningEnd(block_id="r"),
            TextStart(block_id="a"),
            StreamChunk(block_id="a", text="Looking"),
            TextEnd(block_id="a"),
            call_start(0, "weather"),
            call_start(1, "clock"),
            ToolCallDelta(block_id="t0", arguments_delta='{"query": '),
            ToolCallDelta(block_id="t1", arguments_delta='{"query": "now"}'),
            ToolCallDelta(block_id="t0", arguments_delta='"Oslo"}'),
            call_end(1, "clock", '{"query": "now"}'),
            call_end(0, "weather", '{"query": "Oslo"}'),
            usage(),
            TextStart(block_id="b"),
            StreamChunk(block_id="b", text="Sunny "),
            StreamChunk(block_id="b", text="at noon."),
            TextEnd(block_id="b"),
            MemoryWriteEvent(
                memory_id="m",
                workspace_id="ws",
                agent_id="ag",
                kind="fact",
                scope="agent",
                content="likes sun",
            ),
            usage(),
            RunFinish(finish_reason="stop", usage=TokenTotals(input_tokens=6, output_tokens=8)),
        ]
    )


def render(events: list[EventBase]) -> tuple[str, str, list[Piece]]:
    transcript = Transcript()
    pieces = [piece for event in events for piece in transcript.render(event)]
    pieces += transcript.close()
    out = "".join(piece.text for piece in pieces if not piece.err)
    err = "".join(piece.text for piece in pieces if piece.err)
    return out, err, pieces


def interleaved(pieces: list[Piece]) -> str:
    """What a terminal shows: both streams in the order they were written."""
    return "".join(piece.text for piece in pieces)


# --- rendering ----------------------------------------------------------------------------


def test_a_tool_calling_run_reads_well() -> None:
    out, err, pieces = render(two_turns())
    assert out == "Looking\nSunny at noon.\n"
    assert interleaved(pieces) == (
        "thinking: need data\n"
        "Looking\n"
        '⚙ weather({"query": "Oslo"})\n'
        '⚙ clock({"query": "now"})\n'
        "Sunny at noon.\n"
        "✎ remembered (fact, agent): likes sun\n"
    )
    assert "Sunny" not in err


def test_interleaved_calls_show_live_one_at_a_time() -> None:
    transcript = Transcript()
    shown = [
        interleaved(transcript.render(event))
        for event in [
            call_start(0, "a"),
            call_start(1, "b"),
            ToolCallDelta(block_id="t1", arguments_delta="{}"),
            ToolCallDelta(block_id="t0", arguments_delta="{"),
            ToolCallDelta(block_id="t0", arguments_delta="}"),
            call_end(0, "a", "{}"),
            call_end(1, "b", "{}"),
        ]
    ]
    # The first call streams live; the second, held meanwhile, appears whole once it can.
    assert shown == ["⚙ a(", "", "", "{", "}", ")\n⚙ b({}", ")\n"]


def test_errors_and_a_synthesized_ending_render_readably() -> None:
    sequencer = Sequencer("run_2")
    events = sequencer.stamp_all(
        [
            start(),
            TextStart(block_id="a"),
            StreamChunk(block_id="a", text="Half an ans"),
            call_start(0, "lookup"),
            ToolCallDelta(block_id="t0", arguments_delta='{"qu'),
        ]
    )
    events += sequencer.fail("truncated", "the stream ended before run.finish")
    assert [type(event) for event in events[-4:]] == [Error, TextEnd, ToolCallEnd, RunFinish]
    out, _, pieces = render(events)
    assert out == "Half an ans\n"
    lines = interleaved(pieces).splitlines()
    # The error shows at once; the held tool call follows when the text block ends.
    assert lines[:3] == [
        "Half an ans",
        "✖ truncated: the stream ended before run.finish",
        '⚙ lookup({"qu)',
    ]
    assert lines[3].startswith("  (arguments are not valid JSON")
    assert len(lines) == 4


def test_answers_are_shown() -> None:
    transcript = Transcript()
    first = transcript.render(StreamChunk(block_id="x", text="unseen block"))
    answers = [Answer("weather", ToolResult(tool_call_id="call_0", content='{"temp": 21}'))]
    assert first == []
    assert interleaved(transcript.answered(answers)) == '↳ weather answered {"temp": 21}\n'


# --- scripted tools -----------------------------------------------------------------------


def test_each_scripted_call_is_answered_as_soon_as_it_is_complete() -> None:
    answers = ToolAnswers({"weather": '{"temp": 21}', "clock": '"noon"'})
    submitted = [
        (event.seq, [(a.name, a.result.tool_call_id, a.result.content) for a in ready])
        for event in two_turns()
        if (ready := answers.observe(event))
    ]
    # The calls' ends are events 13 and 14 (clock finished first); no turn-end signal needed.
    assert submitted == [
        (13, [("clock", "call_1", '"noon"')]),
        (14, [("weather", "call_0", '{"temp": 21}')]),
    ]


def test_unscripted_calls_are_left_alone() -> None:
    answers = ToolAnswers({"weather": "1"})
    assert [answers.observe(event) for event in (call_start(0, "weather"), usage())] == [[], []]
    assert answers.observe(call_end(1, "search", "")) == []
    ready = answers.observe(call_end(0, "weather", ""))
    assert [(a.name, a.result.tool_call_id) for a in ready] == [("weather", "call_0")]


def test_parse_tools_and_their_specs() -> None:
    tools = parse_tools(['weather={"temp": 21}', 'clock="noon"'])
    assert tools == [ScriptedTool("weather", '{"temp": 21}'), ScriptedTool("clock", '"noon"')]
    spec = tool_spec(tools[0])
    assert spec.name == "weather"
    assert spec.parameters == {
        "type": "object",
        "properties": {"query": {"type": "string", "description": "What to look up."}},
    }


@pytest.mark.parametrize(
    "values", [["weather"], ["bad name=1"], ["weather={nope"], ["a=1", "a=2"], ["=1"]]
)
def test_bad_tool_options_are_usage_errors(values: list[str]) -> None:
    with pytest.raises(typer.Exit) as exited:
        parse_tools(values)
    assert exited.value.exit_code == 2


# --- timings and outcome ------------------------------------------------------------------


def test_stopwatch_measures_to_the_first_content_event() -> None:
    clock = Stopwatch(started=100.0)
    events = two_turns()
    # Each event arrives 10 ms after the one before; the first content is the reasoning delta.
    for n, event in enumerate(events, start=1):
        clock.observe(event, 100.0 + n / 100)
    assert clock.first_content == pytest.approx(100.03)
    assert len(events) == 22
    assert (
        clock.summary()
        == "TTFT 30 ms · total 220 ms · 22 events · tokens 6 in / 8 out · finish stop"
    )
    slow = Stopwatch(started=0.0)
    slow.observe(RunFinish(finish_reason="length"), 2.5)
    assert slow.summary() == "TTFT - · total 2.50 s · 1 events · finish length"
    assert Stopwatch(started=1.0).summary() == "TTFT - · total - · 0 events · finish none"


@pytest.mark.parametrize(
    ("reason", "code"),
    [("stop", 0), ("length", 0), ("tool_calls", 0), ("error", 1), ("content_filter", 1)],
)
def test_exit_codes(reason: str, code: int) -> None:
    assert exit_code(RunFinish.model_validate({"finish_reason": reason})) == code
    assert exit_code(None) == 1


def test_which_credentials_may_run() -> None:
    token = {"kind": "token", "workspace_id": "ws", "scopes": ["runtime:invoke"]}
    assert holds_runtime_invoke(token)
    assert not holds_runtime_invoke({**token, "scopes": ["proxy:invoke"]})
    assert not holds_runtime_invoke({**token, "workspace_id": None})  # a personal token
    assert not holds_runtime_invoke({"kind": "user", "workspace_id": None, "scopes": None})


# --- the run credential against the control plane ----------------------------------------


@pytest.fixture
def api(app: FastAPI, server: tuple[FastAPI, ServerThread]) -> Iterator[Api]:
    with httpx.Client(base_url=server[1].url, timeout=30) as http:
        yield Api(http, server[1].url, from_session=False)


def login(api: Api, username: str) -> str:
    reply = api.post("/v1/auth/login", {"username": username, "password": factories.PASSWORD})
    return str(reply["access_token"])


def as_(api: Api, token: str) -> Api:
    api._http.headers["Authorization"] = f"Bearer {token}"
    return api


def test_a_session_gets_a_short_lived_agent_token_revoked_afterwards(
    api: Api, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    user_session = login(api, tenant.owner.username)
    seen: dict[str, Any] = {}

    def a_run_that_fails() -> None:
        with run_credential(as_(api, user_session), user_session, "acme-agent", None) as (
            run_token,
            agent_ref,
        ):
            me = as_(api, run_token).get("/v1/me")
            seen.update(me, agent_ref=agent_ref, run_token=run_token)
            as_(api, user_session)  # the revocation goes out as the user
            raise RuntimeError("the run failed")

    with pytest.raises(RuntimeError, match="the run failed"):
        a_run_that_fails()
    assert (seen["agent_ref"], seen["kind"], seen["scopes"], seen["agent_id"]) == (
        tenant.agent.id,
        "token",
        ["runtime:invoke"],
        tenant.agent.id,
    )
    assert seen["run_token"] != user_session
    accessor = seen["token_accessor"]
    issued = as_(api, user_session).get(f"/v1/tokens/{accessor}")
    assert issued["description"] == "gatehouse run"
    assert issued["revoked_at"] is not None
    lifetime = datetime.fromisoformat(issued["expires_at"]) - datetime.fromisoformat(
        issued["created_at"]
    )
    assert lifetime.total_seconds() == pytest.approx(600, abs=1)


def test_a_runtime_token_is_used_as_it_is(api: Api, session: Session, container: Container) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    agent_api = as_(api, tenant.agent_token)
    with run_credential(agent_api, tenant.agent_token, "acme-agent", None) as used:
        assert used == (tenant.agent_token, "acme-agent")
    tokens = as_(api, login(api, tenant.owner.username)).get(
        f"/v1/workspaces/{tenant.workspace.id}/tokens"
    )
    assert [token["accessor"] for token in tokens["items"]] == [tenant.agent_token_accessor]


def test_a_refusal_before_the_stream_is_one_line(
    cli: Cli, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    result = cli("run", "--agent", "no-such-agent", "hi", token=tenant.agent_token)
    assert_one_line_error(result)


def test_a_session_run_revokes_its_token_whatever_the_outcome(
    cli: Cli, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    cli.login(tenant.owner.username)
    result = cli("run", "--agent", "acme-agent", "hi")
    assert result.exit_code in (0, 1), (result.stdout, result.stderr)
    listed = cli.ok("tokens", "list", "--include-revoked", "--json")
    issued = [t for t in json.loads(listed.stdout) if t["description"] == "gatehouse run"]
    assert [(t["scopes"], t["agent_id"]) for t in issued] == [(["runtime:invoke"], tenant.agent.id)]
    assert issued[0]["revoked_at"] is not None
