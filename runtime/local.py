"""The local provider: deterministic, in-process, no network and no keys.

It is what an agent without a runtime configuration runs on, so demos, tests and benchmarks
need nothing but Gatehouse itself. One call to `local_turn` produces one model turn's events
(without the envelope), ending with exactly one `run.finish`, like an adapter's decoder.

What it answers depends on the conversation's last messages. This is a contract the CLI demo,
the tests and the benchmarks rely on:

- **Tool results** (the conversation ends with tool messages): the text
  `Tool <name> returned <content>.` for each of them, then finish `stop`.
- **`/tools`** anywhere in the last user message, with tools declared: one call to every
  declared tool, in parallel, their argument fragments interleaved. The arguments are
  `{"query": "<prompt without the directive>"}` when the tool's parameters have a `query`
  property, else `{}` (sent with no argument fragment at all, as some providers do). Finish
  `tool_calls`. Without declared tools, `/tools` is ordinary text.
- **`/remember <text>`**: a `memory.write` (kind `fact`, scope `agent`, content `<text>`), then
  the text `I will remember that.`
- **`/error`**: a few words of text, then `error(provider_error, provider_code="local_error",
  retryable=true)` and finish `error`.
- **`/reason`**: a reasoning block of a few words before the text (combines with the others).
- **`/long <n>`**: `n` words of text (`word1 word2 ...`), for benchmarks.
- **`/hang`**: one word of text, then nothing until the run is cancelled.
- **Anything else**: `Hello from the local provider. You said: <prompt>`.

Text streams one `text.delta` per word, each with its trailing whitespace. Every turn that ends
normally sends one incremental `usage` (input = words in the prompt or the tool results,
output = deltas produced) before its finish. The delay between two deltas is the agent's
`pacing_ms` parameter, else `GATEHOUSE_RUNTIME_LOCAL_PACING_MS`; the first one is not delayed.
"""

import asyncio
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from runtime.adapters.base import block_id
from runtime.contract import (
    Error,
    EventBase,
    FinishReason,
    MemoryWriteEvent,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    RunFinish,
    StreamChunk,
    TextEnd,
    TextStart,
    TokenTotals,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from runtime.conversation import Message, ModelCall, ToolSpec
from runtime.guard import parse_arguments

PROVIDER = "local"
GREETING = "Hello from the local provider. You said: "
REASONING = "Thinking it over before answering."
ERROR_PREFIX = "Something is about to go wrong"
REMEMBERED = "I will remember that."
FRAGMENT_CHARS = 6  # tool arguments arrive in pieces of this many characters
MAX_LONG_WORDS = 1_000_000

_WORDS = re.compile(r"\S+\s*")
_LONG = re.compile(r"(?<!\S)/long\s+(\d{1,7})(?!\d)")
_REMEMBER = re.compile(r"(?<!\S)/remember(?:\s+(.*))?", re.DOTALL)
_DIRECTIVE = re.compile(r"(?<!\S)/(tools|reason|error|hang)(?!\S)")


def words(text: str) -> list[str]:
    """Each word with the whitespace after it: joined back, they give the text again."""
    return _WORDS.findall(text)


class _Turn:
    """One turn's block numbering, pacing and output count."""

    def __init__(self, turn: int, pacing_seconds: float) -> None:
        self.turn = turn
        self.pacing = pacing_seconds
        self.blocks = 0
        self.deltas = 0

    def next_block(self) -> str:
        self.blocks += 1
        return block_id(self.turn, self.blocks - 1)

    async def pace(self) -> None:
        # Between deltas, never before the first: the first token goes out at once.
        if self.deltas and self.pacing > 0:
            await asyncio.sleep(self.pacing)
        elif self.deltas:
            # Unpaced, still yield between tokens, as a provider's network reads would: one
            # run must not hold the event loop while a hundred others wait for their first.
            await asyncio.sleep(0)
        self.deltas += 1

    async def text(self, text: str) -> AsyncIterator[EventBase]:
        block = self.next_block()
        yield TextStart(block_id=block)
        for word in words(text):
            await self.pace()
            yield StreamChunk(block_id=block, text=word)
        yield TextEnd(block_id=block)

    async def reasoning(self, text: str) -> AsyncIterator[EventBase]:
        block = self.next_block()
        yield ReasoningStart(block_id=block)
        for word in words(text):
            await self.pace()
            yield ReasoningDelta(block_id=block, text=word)
        yield ReasoningEnd(block_id=block)

    def finish(self, input_words: int, reason: FinishReason = "stop") -> list[EventBase]:
        totals = TokenTotals(input_tokens=input_words, output_tokens=self.deltas)
        usage = Usage(
            input_tokens=totals.input_tokens, output_tokens=totals.output_tokens, cumulative=False
        )
        return [usage, RunFinish(finish_reason=reason, native_finish_reason=reason, usage=totals)]


async def local_turn(
    call: ModelCall, turn: int, pacing_seconds: float
) -> AsyncGenerator[EventBase, None]:
    state = _Turn(turn, pacing_seconds)
    answered = _trailing_tool_messages(call.messages)
    script = _tool_answers(state, call, answered) if answered else _prompt_answer(state, call)
    async for event in script:
        yield event


async def _tool_answers(
    state: _Turn, call: ModelCall, answered: list[Message]
) -> AsyncIterator[EventBase]:
    names = _tool_names(call.messages)
    text = " ".join(
        f"Tool {names.get(m.tool_call_id or '', 'unknown')} returned {m.content}." for m in answered
    )
    async for event in state.text(text):
        yield event
    for event in state.finish(sum(len(words(m.content)) for m in answered)):
        yield event


async def _prompt_answer(state: _Turn, call: ModelCall) -> AsyncIterator[EventBase]:
    prompt = _last_user_prompt(call.messages)
    found = set(_DIRECTIVE.findall(prompt))
    if "reason" in found:
        async for event in state.reasoning(REASONING):
            yield event
    if "hang" in found:
        block = state.next_block()
        yield TextStart(block_id=block)
        await state.pace()
        yield StreamChunk(block_id=block, text="Waiting ")
        await asyncio.Event().wait()  # until the run is cancelled
    if "error" in found:
        async for event in state.text(f"{ERROR_PREFIX}."):
            yield event
        yield Error(
            code="provider_error",
            provider_code="local_error",
            message="the local provider failed, as asked",
            retryable=True,
            after_first_token=True,
        )
        yield RunFinish(finish_reason="error", native_finish_reason="error")
        return
    if "tools" in found and call.tools:
        async for event in _tool_calls(state, call.tools, _strip(prompt, "/tools")):
            yield event
        for event in state.finish(len(words(prompt)), "tool_calls"):
            yield event
        return
    async for event in _text_answer(state, prompt):
        yield event
    for event in state.finish(len(words(prompt))):
        yield event


async def _text_answer(state: _Turn, prompt: str) -> AsyncIterator[EventBase]:
    remember = _REMEMBER.search(prompt)
    long = _LONG.search(prompt)
    content = (remember.group(1) or "").strip() if remember is not None else ""
    if content:
        yield MemoryWriteEvent(
            memory_id="", workspace_id="", agent_id="", kind="fact", scope="agent", content=content
        )
        text = REMEMBERED
    elif long is not None:
        count = min(int(long.group(1)), MAX_LONG_WORDS)
        text = " ".join(f"word{n}" for n in range(1, count + 1))
    else:
        text = GREETING + _strip(prompt, "/reason")
    if text:
        async for event in state.text(text):
            yield event


async def _tool_calls(state: _Turn, tools: list[ToolSpec], query: str) -> AsyncIterator[EventBase]:
    blocks: list[tuple[str, str, ToolSpec, str]] = []
    for index, tool in enumerate(tools):
        block, call_id = state.next_block(), f"call_{state.turn}_{index}"
        raw = json.dumps({"query": query}) if _takes_query(tool) else ""
        blocks.append((block, call_id, tool, raw))
        yield ToolCallStart(block_id=block, tool_call_id=call_id, name=tool.name, index=index)
    longest = max(len(raw) for *_, raw in blocks)
    for offset in range(0, longest, FRAGMENT_CHARS):
        for block, _, _, raw in blocks:
            fragment = raw[offset : offset + FRAGMENT_CHARS]
            if fragment:
                await state.pace()
                yield ToolCallDelta(block_id=block, arguments_delta=fragment)
    for block, call_id, tool, raw in blocks:
        arguments, problem = parse_arguments(raw)
        yield ToolCallEnd(
            block_id=block,
            tool_call_id=call_id,
            name=tool.name,
            arguments=arguments,
            arguments_raw=raw,
            parse_error=problem,
        )


def _takes_query(tool: ToolSpec) -> bool:
    properties: Any = tool.parameters.get("properties")
    return isinstance(properties, dict) and "query" in properties


def _strip(prompt: str, directive: str) -> str:
    """The prompt without a directive word; untouched (spacing included) when it has none."""
    if directive not in prompt.split():
        return prompt
    return " ".join(word for word in prompt.split() if word != directive)


def _trailing_tool_messages(messages: list[Message]) -> list[Message]:
    trailing: list[Message] = []
    for message in reversed(messages):
        if message.role != "tool":
            break
        trailing.append(message)
    return list(reversed(trailing))


def _tool_names(messages: list[Message]) -> dict[str, str]:
    return {call.id: call.name for m in messages for call in m.tool_calls}


def _last_user_prompt(messages: list[Message]) -> str:
    return next((m.content for m in reversed(messages) if m.role == "user"), "")
