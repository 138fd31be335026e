"""No raw secret leaves a scan: not in findings, stats, the CLI's output or the cache."""

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from audits.secrets.redact import ELLIPSIS, preview
from controlplane.cli.audit_secrets import secrets as secrets_command
from tests.audits.secrets import fakes
from tests.audits.secrets.conftest import Scanner


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("AKIA" + "ABCDEFGHIJKLMNXY", "AKIA…XY"),
        ("password1", "pa…1"),
        ("abcdefghijkl", "abc…l"),
        ("hunte", "h…"),
        ("ab", "…"),
        ("", "…"),
    ],
)
def test_a_preview_shows_at_most_a_third_of_the_secret(secret: str, expected: str) -> None:
    shown = preview(secret)

    assert shown == expected
    assert len(shown.replace(ELLIPSIS, "")) <= len(secret) // 3


def test_no_raw_secret_appears_in_findings_stats_output_or_cache(scan: Scanner, tree: Path) -> None:
    planted = [
        fakes.aws_key(),
        fakes.github_token(),
        fakes.stripe_key(),
        fakes.gatehouse_token(),
        fakes.password(),
    ]
    fakes.write(tree, "a.sh", "".join(f"export V{i}={s}\n" for i, s in enumerate(planted[:4])))
    fakes.write(tree, "b.py", f'db_password = "{planted[4]}"\n')
    findings, stats = scan(tree)
    app = typer.Typer()
    app.command()(secrets_command)
    cache = ["--cache-dir", str(scan.cache_dir)]
    table = CliRunner().invoke(app, [str(tree), *cache], env={"COLUMNS": "250"})
    as_json = CliRunner().invoke(app, [str(tree), "--json", *cache])

    assert len(findings) >= 5
    seen = "\n".join(
        [
            json.dumps([f.model_dump(mode="json") for f in findings]),
            stats.model_dump_json(),
            table.stdout,
            table.stderr,
            as_json.stdout,
            as_json.stderr,
        ]
    )
    stored = b"".join(path.read_bytes() for path in scan.cache_dir.iterdir())
    for secret in planted:
        # Whole, and its middle (what a preview must never show).
        for fragment in (secret, secret[4:-2]):
            assert fragment not in seen
            assert fragment.encode() not in stored
