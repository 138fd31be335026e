"""`gatehouse audit secrets`: the table, --json, --baseline and the exit codes."""

import json
from pathlib import Path

import typer
from typer.testing import CliRunner, Result

from controlplane.cli.audit_secrets import secrets as secrets_command
from tests.audits.secrets import fakes

app = typer.Typer()
app.command()(secrets_command)


def _run(tmp_path: Path, *args: str) -> Result:
    cache = ["--cache-dir", str(tmp_path / "cache")]
    return CliRunner().invoke(app, [*args, *cache], env={"COLUMNS": "250"})


def _tree(root: Path) -> str:
    key = fakes.aws_key()
    fakes.write(root, "deploy/env.sh", f"export AWS_ACCESS_KEY_ID={key}\n")
    fakes.write(root, "README.md", "# nothing here\n")
    return key


def test_the_table_shows_each_finding_and_a_summary_and_exits_0(tree: Path, tmp_path: Path) -> None:
    key = _tree(tree)

    result = _run(tmp_path, str(tree))

    assert result.exit_code == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "deploy/env.sh" in line)
    for cell in ("1", "AWS Access Key", "high", f"{key[:4]}…{key[-2:]}"):
        assert cell in row
    assert result.stdout.splitlines()[-1].startswith("1 findings · 2 files scanned, 0 cached")


def test_json_prints_findings_and_stats(tree: Path, tmp_path: Path) -> None:
    _tree(tree)
    _run(tmp_path, str(tree))

    result = _run(tmp_path, str(tree), "--json")

    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    [finding] = report["findings"]
    assert (finding["path"], finding["rule"], finding["severity"]) == (
        "deploy/env.sh",
        "AWS Access Key",
        "high",
    )
    assert (report["stats"]["files_scanned"], report["stats"]["files_cached"]) == (0, 2)
    assert report["suppressed"] == []


def test_a_clean_tree_says_so_and_exits_0(tree: Path, tmp_path: Path) -> None:
    fakes.write(tree, "main.py", "print('hello')\n")

    result = _run(tmp_path, str(tree))

    assert result.exit_code == 0
    assert result.stdout.startswith("No secrets found.")


def test_baseline_false_positives_are_shown_as_suppressed(tree: Path, tmp_path: Path) -> None:
    _tree(tree)
    [finding] = json.loads(_run(tmp_path, str(tree), "--json").stdout)["findings"]
    baseline = {
        "generated_at": "2026-11-01T00:00:00Z",
        "results": {
            "deploy/env.sh": [
                {
                    "type": finding["rule"],
                    "hashed_secret": finding["secret_hash"],
                    "is_secret": False,
                }
            ]
        },
    }
    path = fakes.write(tmp_path, "fp.baseline", json.dumps(baseline))

    table = _run(tmp_path, str(tree), "--baseline", str(path))
    as_json = json.loads(_run(tmp_path, str(tree), "--baseline", str(path), "--json").stdout)

    assert table.exit_code == 0
    assert "suppressed" in next(line for line in table.stdout.splitlines() if "deploy" in line)
    assert "(1 suppressed)" in table.stdout
    assert as_json["suppressed"] == [finding["fingerprint"]]
    assert as_json["suppressions"][0]["justification"] == "marked false positive in fp.baseline"


def test_bad_input_exits_2_with_one_clear_line(tree: Path, tmp_path: Path) -> None:
    _tree(tree)
    bad_config = fakes.write(tmp_path, "audit.yaml", "max_file_bytes: -1\n")
    bad_baseline = fakes.write(tmp_path, "bad.baseline", "{not json")

    cases = {
        "not a directory": [str(tree / "missing")],
        "max_file_bytes": [str(tree), "--config", str(bad_config)],
        "not valid JSON": [str(tree), "--baseline", str(bad_baseline)],
        "needs a git repository": [str(tree), "--history"],
    }
    for fragment, args in cases.items():
        result = _run(tmp_path, *args)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line.startswith("error: ")
        assert fragment in line
