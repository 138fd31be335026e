"""Which lines of a file each plugin could report on, found in one pass over the whole text.

detect-secrets runs every plugin (about thirty) on every line through Python-level dependency
injection, and almost no line of ordinary code yields anything: that per-line work is what
makes it slow. Here each plugin's own patterns run once over the file's text, at C speed, to
find a superset of the lines where that plugin could report something; detect-secrets' own
per-line code then runs on those lines only, with those plugins only. So the findings are the
ones detect-secrets reports, provided each candidate set really is a superset:

- The text is the lines exactly as detect-secrets hands them to plugins (right-stripped),
  joined with "\\n", and a match marks every line it spans.
- Regex plugins: the same patterns, compiled with MULTILINE, so `^` and `$` also hold at line
  ends. A match inside a line is then a match in the text, unless the pattern looks at its
  surroundings in a way a neighbouring "\\n" could change: `\\A`, `\\Z` or a negative
  lookaround. Patterns with those are only searched this way for detect-secrets' built-ins
  reviewed for it (their lookarounds exclude word characters and dots, never "\\n").
- High-entropy plugins: a quoted string cannot span lines (the character sets exclude "\\n"),
  so the text's quoted strings are exactly the lines' ones; a line is a candidate when one of
  them exceeds the plugin's entropy limit, computed by the plugin itself. Shannon entropy is at
  most log2 of the number of distinct characters, which rules out most strings cheaply.
- The keyword plugin: each of its patterns contains one of its denylist words, which cannot
  span lines.
- Any other plugin (a custom one, or a built-in that overrides its analysis) runs on every line.
"""

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import Any

from detect_secrets.__version__ import VERSION
from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
from detect_secrets.plugins.high_entropy_strings import (
    Base64HighEntropyString,
    HexHighEntropyString,
    HighEntropyStringsPlugin,
)
from detect_secrets.plugins.keyword import DENYLIST, KeywordDetector

Span = tuple[int, int]
Finder = Callable[[str], list[Span]]

_BUILTINS = "detect_secrets.plugins."
# Built-ins whose negative lookarounds were reviewed (detect-secrets 1.5): none can match "\n".
_REVIEWED_LOOKAROUNDS = frozenset(
    {"IPPublicDetector", "GitLabTokenDetector", "IbmCloudIamDetector", "IbmCosHmacDetector"}
)
# Built-ins whose analyze_string only drops some of the denylist's matches.
_FILTERING_ANALYSERS = frozenset({"JwtTokenDetector"})
_CONTEXT_SENSITIVE = re.compile(r"\\[AZ]|\(\?<?!")
_KEYWORDS = re.compile("|".join(DENYLIST), re.IGNORECASE)
# The denylist is lowercase; on ASCII text, lowering the text keeps every offset and matches
# exactly what IGNORECASE matches, many times faster.
_ASCII_KEYWORDS = re.compile("|".join(DENYLIST))
_EXACT_ENTROPY = (Base64HighEntropyString, HexHighEntropyString)


def _is_builtin(plugin_type: type, names: frozenset[str]) -> bool:
    return plugin_type.__module__.startswith(_BUILTINS) and plugin_type.__name__ in names


def _regex_finder(plugin: Any) -> Finder | None:
    plugin_type = type(plugin)
    reports_matches = (
        plugin_type.analyze_string is RegexBasedDetector.analyze_string
        or getattr(plugin_type, "REPORTS_ONLY_DENYLIST_MATCHES", False)
        or _is_builtin(plugin_type, _FILTERING_ANALYSERS)
    )
    if not reports_matches or plugin_type.analyze_line is not BasePlugin.analyze_line:
        return None
    reviewed = VERSION.startswith("1.5.") and _is_builtin(plugin_type, _REVIEWED_LOOKAROUNDS)
    patterns: list[re.Pattern[str]] = []
    for pattern in plugin.denylist:
        if _CONTEXT_SENSITIVE.search(pattern.pattern) and not reviewed:
            return None
        patterns.append(re.compile(pattern.pattern, pattern.flags | re.MULTILINE))

    def find(text: str) -> list[Span]:
        return [match.span() for pattern in patterns for match in pattern.finditer(text)]

    return find


def _entropy_finder(plugin: Any) -> Finder | None:
    plugin_type = type(plugin)
    if (
        plugin_type.analyze_string is not HighEntropyStringsPlugin.analyze_string
        or plugin_type.analyze_line is not HighEntropyStringsPlugin.analyze_line
    ):
        return None
    limit: float = plugin.entropy_limit
    # Fewer distinct characters than 2**limit cannot exceed the limit (for the formulas of the
    # built-ins; a subclass with its own formula gets every string measured).
    fewest_distinct = 2**limit - 1e-9 if plugin_type in _EXACT_ENTROPY else 0.0

    def find(text: str) -> list[Span]:
        spans = []
        for match in plugin.regex.finditer(text):
            value = match.group(2)
            if (
                len(value) >= fewest_distinct
                and len(set(value)) >= fewest_distinct
                and plugin.calculate_shannon_entropy(value) > limit
            ):
                spans.append(match.span())
        return spans

    return find


def _keyword_finder(text: str) -> list[Span]:
    matches = _ASCII_KEYWORDS.finditer(text.lower()) if text.isascii() else _KEYWORDS.finditer(text)
    return [match.span() for match in matches]


def _finder(plugin: Any) -> Finder | None:
    if type(plugin) is KeywordDetector:
        return _keyword_finder
    if isinstance(plugin, HighEntropyStringsPlugin):
        return _entropy_finder(plugin)
    if isinstance(plugin, RegexBasedDetector):
        return _regex_finder(plugin)
    return None


class Prefilter:
    def __init__(self, plugins: Sequence[Any]) -> None:
        self._finders = [_finder(plugin) for plugin in plugins]
        self._everywhere = frozenset(i for i, found in enumerate(self._finders) if found is None)

    @property
    def complete(self) -> bool:
        """Whether every plugin is prefiltered (otherwise some run on every line)."""
        return not self._everywhere

    def plan(self, lines: Sequence[str]) -> list[tuple[int, list[int]]]:
        """(line number, indexes of the plugins to run on it), in line order.

        `lines` are right-stripped, as detect-secrets passes them to plugins.
        """
        text = "\n".join(lines)
        found = [(i, find(text)) for i, find in enumerate(self._finders) if find is not None]
        found = [(i, spans) for i, spans in found if spans]
        candidates: dict[int, set[int]] = {}
        if found:
            ends = list(accumulate(len(line) + 1 for line in lines))
            for index, spans in found:
                for start, end in spans:
                    first = bisect_right(ends, start)
                    last = bisect_right(ends, max(start, end - 1))
                    for line_index in range(first, last + 1):
                        candidates.setdefault(line_index, set()).add(index)
        if self._everywhere:
            every = range(len(lines))
            return [(i + 1, sorted(candidates.get(i, set()) | self._everywhere)) for i in every]
        return [(i + 1, sorted(plugins)) for i, plugins in sorted(candidates.items())]
