"""Static analysis: real bandit runs over small Python files written into tmp_path."""

import secrets
from importlib.metadata import version
from pathlib import Path

import pytest

from audits.model import Category, Finding, Severity, Tool
from audits.static import bandit_version, scan_python

SHELL_CALL = "import subprocess\n\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n"
CLEAN = "def add(a, b):\n    return a + b\n"


def _password_assignment() -> tuple[str, str]:
    """A line bandit's B105 flags, with a value made up now (never stored in the repository)."""
    value = "fake-" + secrets.token_hex(6)
    name = ("pass" + "word").upper()
    return f'{name} = "{value}"\n', value


def _by_rule(findings: list[Finding], rule: str) -> list[Finding]:
    return [finding for finding in findings if finding.rule == rule]


def test_shell_true_is_a_high_severity_code_finding_with_bandit_metadata(tmp_path: Path) -> None:
    (tmp_path / "runner.py").write_text(SHELL_CALL)

    findings, _ = scan_python(tmp_path, [Path("runner.py")])

    [shell] = _by_rule(findings, "B602")
    assert shell.tool is Tool.BANDIT
    assert shell.category is Category.CODE
    assert shell.severity is Severity.HIGH
    assert shell.confidence == "HIGH"
    assert shell.cwe == 78
    assert shell.rule_name == "subprocess_popen_with_shell_equals_true"
    assert shell.path == "runner.py"
    assert shell.line == 5
    assert shell.help_uri is not None
    assert shell.help_uri.startswith("https://bandit.readthedocs.io/")
    assert "b602" in shell.help_uri
    # The import is reported on its own, under the blacklist's name.
    [module] = _by_rule(findings, "B404")
    assert module.rule_name == "import_subprocess"
    assert module.severity is Severity.LOW


def test_hardcoded_password_is_reported_without_its_value(tmp_path: Path) -> None:
    line, value = _password_assignment()
    (tmp_path / "settings.py").write_text(line)

    findings, _ = scan_python(tmp_path, [tmp_path / "settings.py"])

    [password] = _by_rule(findings, "B105")
    assert password.cwe == 259
    assert password.confidence == "MEDIUM"
    assert password.preview is None
    assert "password" in password.message.lower()
    assert value not in password.model_dump_json()


def test_a_clean_file_has_no_findings_and_broken_files_are_counted_as_skipped(
    tmp_path: Path,
) -> None:
    (tmp_path / "clean.py").write_text(CLEAN)
    (tmp_path / "broken.py").write_text("def broken(:\n")

    findings, stats = scan_python(tmp_path, [Path("clean.py"), Path("broken.py")])

    assert findings == []
    assert stats.files_seen == 2
    assert stats.files_scanned == 1
    assert stats.files_skipped == {"syntax-error": 1}


def test_moving_code_keeps_the_fingerprint_and_changing_it_does_not(tmp_path: Path) -> None:
    source = tmp_path / "runner.py"
    source.write_text(SHELL_CALL)
    [before] = _by_rule(scan_python(tmp_path, [source])[0], "B602")

    source.write_text(
        "# a comment\n\n" + SHELL_CALL.replace("    subprocess", "        subprocess")
    )
    [moved] = _by_rule(scan_python(tmp_path, [source])[0], "B602")

    source.write_text(SHELL_CALL.replace("call(cmd", "call(other"))
    [changed] = _by_rule(scan_python(tmp_path, [source])[0], "B602")

    assert moved.line == before.line + 2
    assert moved.fingerprint == before.fingerprint
    assert changed.fingerprint != before.fingerprint


def test_identical_flagged_lines_in_one_file_keep_distinct_identities(tmp_path: Path) -> None:
    (tmp_path / "twice.py").write_text(SHELL_CALL + "    subprocess.call(cmd, shell=True)\n")

    findings, _ = scan_python(tmp_path, [Path("twice.py")])

    shells = _by_rule(findings, "B602")
    assert len(shells) == 2
    assert shells[0].fingerprint != shells[1].fingerprint


def test_inline_nosec_does_not_hide_a_finding(tmp_path: Path) -> None:
    # Accepting a finding takes an expiring suppression, not a comment.
    (tmp_path / "runner.py").write_text(SHELL_CALL.replace("shell=True)", "shell=True)  # nosec"))

    findings, _ = scan_python(tmp_path, [Path("runner.py")])

    assert _by_rule(findings, "B602")


def test_paths_are_normalised_relative_to_the_root(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "runner.py").write_text(SHELL_CALL)

    relative, _ = scan_python(tmp_path, [Path("pkg/runner.py")])
    absolute, _ = scan_python(tmp_path, [tmp_path / "pkg" / "runner.py"])

    assert {finding.path for finding in relative} == {"pkg/runner.py"}
    assert [f.fingerprint for f in relative] == [f.fingerprint for f in absolute]


def test_a_file_outside_the_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "elsewhere.py").write_text(CLEAN)

    with pytest.raises(ValueError, match="not under the scan root"):
        scan_python(tmp_path / "root", [tmp_path / "elsewhere.py"])


def test_bandit_version_is_the_installed_one() -> None:
    assert bandit_version() == version("bandit")
