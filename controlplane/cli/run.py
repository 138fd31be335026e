"""`gatehouse run`: one agent run through the control plane's proxy, streamed as it happens.

The answer's text goes to stdout as it arrives; reasoning, tool calls, memory writes, errors
and the closing timings go to stderr, so `gatehouse run … > answer.txt` keeps just the answer.
`--tool NAME=JSON` declares a tool and scripts its result, which is how a tool-calling agent can
be exercised from a terminal.

A run needs a workspace token with `runtime:invoke`. When the credential at hand is anything
else (a login session, a personal token), the command issues a ten-minute token bound to the
agent for this one run, and revokes it when the run ends, however it ends.

Rendering and tool answering are small classes fed one event at a time, so they can be checked
against recorded event lists without a server.
"""

import json
import re
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated

import typer

from controlplane.cli.client import (
    Api,
    Json,
    WorkspaceOption,
    base_url,
    connect,
    credential,
    resolve_agent,
    resolve_workspace,
    segment,
)
from controlplane.cli.output import fail, note, warn
from runtime.client import RuntimeClient, RuntimeClientError, ToolResult
from runtime.contract import (
    BLOCK_ENDS,
    BLOCK_STARTS,
    Error,
    EventBase,
    MemoryWriteEvent,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    RunFinish,
    StreamChunk,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    is_content,
)
from runtime.conversation import TOOL_NAME, ToolSpec

RUN_SCOPE = "runtime:invoke"
RUN_TOKEN_TTL_SECONDS = 600
RUN_TOKEN_DESCRIPTION = "gatehouse run"  # noqa: S105 - a label, not a secret
SUCCESS = frozenset({"stop", "length", "tool_calls"})
INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
USAGE_ERROR = 2
QUERY_PARAMETERS: Json = {
    "type": "object",
    "properties": {"query": {"type": "string", "description": "What to look up."}},
}


# --- scripted tools -------------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptedTool:
    name: str
    answer: str  # JSON text, submitted as the result's content


@dataclass(frozen=True)
class Answer:
    name: str
    result: ToolResult


def parse_tools(values: Sequence[str]) -> list[ScriptedTool]:
    """`NAME=JSON` options; a mistake is a usage error (exit 2)."""
    tools: dict[str, ScriptedTool] = {}
    for value in values:
        name, sep, answer = value.partition("=")
        if not sep or not re.fullmatch(TOOL_NAME, name):
            fail(f"--tool takes NAME=JSON with a name of [A-Za-z0-9_-], got {value!r}", USAGE_ERROR)
        try:
            json.loads(answer)
        except ValueError:
            fail(f"--tool {name}: the answer is not valid JSON: {answer!r}", USAGE_ERROR)
        if name in tools:
            fail(f"--tool {name} is given twice", USAGE_ERROR)
        tools[name] = ScriptedTool(name, answer)
    return list(tools.values())


def tool_spec(tool: ScriptedTool) -> ToolSpec:
    return ToolSpec(
        name=tool.name,
        description="Answers a query. (Scripted by `gatehouse run`.)",
        parameters=QUERY_PARAMETERS,
    )


class ToolAnswers:
    """Which scripted results to submit, and when: each call as soon as it is complete. The
    runtime takes results call by call, even before the model's turn has formally ended, and
    continues once every call of the turn has one; no turn-end signal is needed."""

    def __init__(self, answers: Mapping[str, str]) -> None:
        self._answers = dict(answers)

    def observe(self, event: EventBase) -> list[Answer]:
        if isinstance(event, ToolCallEnd) and event.name in self._answers:
            result = ToolResult(tool_call_id=event.tool_call_id, content=self._answers[event.name])
            return [Answer(event.name, result)]
        return []


# --- rendering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    text: str
    err: bool = True  # stderr, except the answer's text
    new_line: bool = False  # begins on a line of its own


@dataclass
class _Block:
    pieces: list[Piece] = field(default_factory=list)
    ended: bool = False


class Transcript:
    """Events as text for a terminal. Blocks can interleave (parallel tool calls send their
    argument fragments mixed), so one block at a time is shown live and the others are held
    until it ends, each then shown whole and in the order it started."""

    def __init__(self) -> None:
        self._blocks: dict[str, _Block] = {}  # started, not yet shown to the end
        self._at_line_start = True
        self._last_err = False

    def render(self, event: EventBase) -> list[Piece]:
        if isinstance(event, BLOCK_STARTS):
            self._blocks[event.block_id] = _Block([_opening(event)])
        elif isinstance(event, StreamChunk | ReasoningDelta):
            self._add(event.block_id, Piece(event.text, err=isinstance(event, ReasoningDelta)))
        elif isinstance(event, ToolCallDelta):
            self._add(event.block_id, Piece(event.arguments_delta))
        elif isinstance(event, BLOCK_ENDS):
            block = self._blocks.get(event.block_id)
            if block is not None:
                block.pieces.extend(_closing(event))
                block.ended = True
        elif isinstance(event, MemoryWriteEvent):
            line = f"✎ remembered ({event.kind}, {event.scope}): {event.content}\n"
            return self._layout([Piece(line, new_line=True)])
        elif isinstance(event, Error):
            return self._layout([Piece(f"✖ {event.code}: {event.message}\n", new_line=True)])
        return self._layout(self._shown())

    def answered(self, answers: Iterable[Answer]) -> list[Piece]:
        lines = [f"↳ {a.name} answered {a.result.content}\n" for a in answers]
        return self._layout([Piece(line, new_line=True) for line in lines])

    def close(self) -> list[Piece]:
        """The run is over: the last line finished."""
        return self._layout([Piece("", new_line=True)])

    def _add(self, block_id: str, piece: Piece) -> None:
        block = self._blocks.get(block_id)
        if block is not None:
            block.pieces.append(piece)

    def _shown(self) -> list[Piece]:
        """What the front block has gathered; each block that has ended makes way for the next."""
        shown: list[Piece] = []
        while self._blocks:
            block_id, block = next(iter(self._blocks.items()))
            shown.extend(block.pieces)
            block.pieces = []
            if not block.ended:
                break
            del self._blocks[block_id]
        return shown

    def _layout(self, pieces: Iterable[Piece]) -> list[Piece]:
        out: list[Piece] = []
        for piece in pieces:
            if piece.new_line and not self._at_line_start:
                out.append(Piece("\n", err=self._last_err))
                self._at_line_start = True
            if piece.text:
                out.append(piece)
                self._at_line_start = piece.text.endswith("\n")
                self._last_err = piece.err
        return out


def _opening(event: EventBase) -> Piece:
    if isinstance(event, ToolCallStart):
        return Piece(f"⚙ {event.name}(", new_line=True)
    if isinstance(event, ReasoningStart):
        return Piece("thinking: ", new_line=True)
    return Piece("", err=False, new_line=True)  # a text block: the answer, on stdout


def _closing(event: EventBase) -> list[Piece]:
    if isinstance(event, ToolCallEnd):
        problem = [Piece(f"  ({event.parse_error})\n")] if event.parse_error else []
        return [Piece(")\n"), *problem]
    if isinstance(event, ReasoningEnd):
        return [Piece("\n")]
    return []  # text stops where it stops; whatever follows starts a line of its own


def write(pieces: Iterable[Piece]) -> None:
    for piece in pieces:
        stream = sys.stderr if piece.err else sys.stdout
        stream.write(piece.text)
        stream.flush()  # live: every delta shows the moment it arrives


# --- timing ---------------------------------------------------------------------------------


@dataclass
class Stopwatch:
    """Client-side timings from a monotonic clock started as the request is sent."""

    started: float
    first_content: float | None = None
    ended: float | None = None
    events: int = 0
    finish: RunFinish | None = None

    def observe(self, event: EventBase, now: float) -> None:
        self.events += 1
        if self.first_content is None and is_content(event):
            self.first_content = now
        if isinstance(event, RunFinish):
            self.finish, self.ended = event, now

    def summary(self) -> str:
        parts = [
            f"TTFT {_duration(self.first_content, self.started)}",
            f"total {_duration(self.ended, self.started)}",
            f"{self.events} events",
        ]
        usage = self.finish.usage if self.finish else None
        if usage is not None:
            tokens_in = "?" if usage.input_tokens is None else usage.input_tokens
            tokens_out = "?" if usage.output_tokens is None else usage.output_tokens
            parts.append(f"tokens {tokens_in} in / {tokens_out} out")
        parts.append(f"finish {self.finish.finish_reason if self.finish else 'none'}")
        return " · ".join(parts)


def _duration(end: float | None, start: float) -> str:
    if end is None:
        return "-"
    seconds = end - start
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def exit_code(finish: RunFinish | None) -> int:
    return 0 if finish is not None and finish.finish_reason in SUCCESS else 1


# --- the credential -------------------------------------------------------------------------


def holds_runtime_invoke(me: Json) -> bool:
    """Whether `GET /v1/me` describes a workspace token that may start runs."""
    return (
        me.get("kind") == "token"
        and bool(me.get("workspace_id"))
        and RUN_SCOPE in (me.get("scopes") or [])
    )


@contextmanager
def run_credential(
    api: Api, token: str, agent: str, workspace: str | None
) -> Iterator[tuple[str, str]]:
    """The token to run with and how to name the agent to the runtime."""
    if holds_runtime_invoke(api.get("/v1/me")):
        # The runtime resolves a name within the token's own workspace.
        yield token, agent
        return
    workspace_id = resolve_workspace(api, workspace)
    agent_id = str(resolve_agent(api, workspace_id, agent)["id"])
    issued = api.post(
        f"/v1/workspaces/{workspace_id}/tokens",
        {
            "scopes": [RUN_SCOPE],
            "agent_id": agent_id,
            "ttl_seconds": RUN_TOKEN_TTL_SECONDS,
            "description": RUN_TOKEN_DESCRIPTION,
        },
    )
    try:
        yield str(issued["token"]), agent_id
    finally:
        _revoke(api, str(issued["accessor"]))


def _revoke(api: Api, accessor: str) -> None:
    try:
        api.post(f"/v1/tokens/{segment(accessor)}/revoke", {"reason": "gatehouse run ended"})
    except typer.Exit:
        # The failure is already on stderr; the run's own outcome decides the exit code.
        warn(f"the run's token {accessor} expires by itself within ten minutes")


# --- the run --------------------------------------------------------------------------------


def _refused(error: RuntimeClientError) -> str:
    return f"{error.detail} ({error.code})"


def stream_run(
    client: RuntimeClient,
    agent: str,
    prompt: str,
    tools: Sequence[ScriptedTool],
    transcript: Transcript,
    *,
    as_json: bool,
) -> int:
    answers = ToolAnswers({tool.name: tool.answer for tool in tools})
    messages = [{"role": "user", "content": prompt}]
    events = client.stream(agent, messages, [tool_spec(t) for t in tools])
    clock = Stopwatch(time.monotonic())
    try:
        events.open()
    except RuntimeClientError as error:
        fail(_refused(error))
    with events:
        for event in events:
            clock.observe(event, time.monotonic())
            if as_json:
                write([Piece(event.model_dump_json() + "\n", err=False)])
            else:
                write(transcript.render(event))
            ready = answers.observe(event)
            if ready:
                _submit(client, event.run_id, ready)
                if not as_json:
                    write(transcript.answered(ready))
    write(transcript.close())
    note(clock.summary())
    return exit_code(clock.finish)


def _submit(client: RuntimeClient, run_id: str, ready: list[Answer]) -> None:
    try:
        client.submit_tool_results(run_id, [answer.result for answer in ready])
    except RuntimeClientError as error:
        fail(f"the tool results were refused: {_refused(error)}")


def run(
    prompt: Annotated[str, typer.Argument(help="The user message to send.")],
    agent: Annotated[str, typer.Option("--agent", "-a", help="The agent's id or name.")],
    tool: Annotated[
        list[str] | None,
        typer.Option(
            "--tool",
            metavar="NAME=JSON",
            help="Declare a tool (one optional string argument, `query`) whose result is JSON; "
            "repeatable.",
        ),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the raw events as JSON lines instead.")
    ] = False,
) -> None:
    """Run an agent through the proxy and stream its answer; timings go to stderr.

    Exit 0 when the run finishes with stop, length or tool_calls, 1 on an error, 130 on
    Ctrl-C (which cancels the run).
    """
    tools = parse_tools(tool or [])
    url = base_url()
    token, _ = credential(url)
    transcript = Transcript()
    try:
        with (
            connect() as api,
            run_credential(api, token, agent, workspace) as (run_token, agent_ref),
            RuntimeClient(f"{url}/proxy/runtime", run_token) as client,
        ):
            code = stream_run(client, agent_ref, prompt, tools, transcript, as_json=as_json)
    except KeyboardInterrupt:
        write(transcript.close())
        note("interrupted: the stream is closed and the run cancelled")
        code = INTERRUPTED
    raise typer.Exit(code)
