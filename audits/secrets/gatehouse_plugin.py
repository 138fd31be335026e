"""A detect-secrets plugin for Gatehouse tokens: `gth_` + 30 base62 + a 6-character checksum.

The checksum makes this detector nearly free of false positives: a string only counts when it
has the exact shape *and* its CRC32 checksum holds, so look-alikes in docs and tests (a typo, a
made-up example) are not findings. It is an ordinary detect-secrets plugin, so the upstream
command line loads it too: `detect-secrets scan --plugin audits/secrets/gatehouse_plugin.py`.

This file is also imported by path (that is how detect-secrets loads custom plugins), so it
uses absolute imports only.
"""

from collections.abc import Generator
from typing import ClassVar

from detect_secrets.plugins.base import RegexBasedDetector

from audits.secrets.severity import GATEHOUSE_TOKEN
from controlplane.tokens.format import TOKEN_PATTERN, is_well_formed


class GatehouseTokenDetector(RegexBasedDetector):
    """Scans for Gatehouse scoped tokens whose checksum is valid."""

    secret_type = GATEHOUSE_TOKEN
    denylist = (TOKEN_PATTERN,)
    # What the engine's whole-file prefilter relies on: every reported value is one of the
    # denylist's own matches (the checksum only removes some).
    REPORTS_ONLY_DENYLIST_MATCHES: ClassVar[bool] = True

    def analyze_string(self, string: str) -> Generator[str, None, None]:
        for match in super().analyze_string(string):
            if is_well_formed(match):
                yield match
