"""Importing a detect-secrets baseline: audit labels become expiring suppressions."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audits.secrets import BaselineError, import_baseline, read_baseline_excludes
from tests.audits.secrets import fakes
from tests.audits.secrets.conftest import Scanner

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _detect_secrets_baseline(root: Path, *extra: str) -> dict[str, object]:
    """A baseline as `detect-secrets scan` writes it, run from the tree's top."""
    done = subprocess.run(  # noqa: S603 - the detect-secrets command line, fixed arguments
        [str(Path(sys.executable).parent / "detect-secrets"), "scan", "--all-files", *extra],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    baseline: dict[str, object] = json.loads(done.stdout)
    return baseline


def _label(
    baseline: dict[str, object], labels: dict[str, bool], approver: str | None = None
) -> None:
    results = baseline["results"]
    assert isinstance(results, dict)
    for name, label in labels.items():
        entry = results[name][0]
        entry["is_secret"] = label
        if approver:
            entry["approver"] = approver


def test_false_positive_labels_suppress_exactly_their_findings(
    scan: Scanner, tree: Path, tmp_path: Path
) -> None:
    fakes.write(tree, "docs/example.sh", f"export KEY={fakes.aws_key()}\n")
    fakes.write(tree, "real.sh", f"export KEY={fakes.aws_key()}\n")
    fakes.write(tree, "todo.sh", f"export KEY={fakes.aws_key()}\n")
    baseline = _detect_secrets_baseline(tree)
    _label(baseline, {"docs/example.sh": False, "real.sh": True})
    path = fakes.write(tmp_path, ".secrets.baseline", json.dumps(baseline))

    [suppression] = import_baseline(path, now=NOW)
    findings, _ = scan(tree)

    example = next(f for f in findings if f.path == "docs/example.sh")
    assert suppression.fingerprint == example.fingerprint
    assert suppression.justification == "marked false positive in .secrets.baseline"
    assert suppression.approver == "detect-secrets baseline"
    assert suppression.created_at == datetime.fromisoformat(str(baseline["generated_at"]))
    assert suppression.expires_at == NOW + timedelta(days=180)
    assert len(findings) == 3  # labels never hide a finding from the scan itself


def test_an_approver_in_the_baseline_and_a_shorter_expiry_are_kept(tree: Path) -> None:
    fakes.write(tree, "a.sh", f"export KEY={fakes.aws_key()}\n")
    baseline = _detect_secrets_baseline(tree)
    _label(baseline, {"a.sh": False}, approver="alice@example.com")
    del baseline["generated_at"]
    path = fakes.write(tree, "custom.baseline", json.dumps(baseline))

    [suppression] = import_baseline(path, now=NOW, expires_in=timedelta(days=30))

    assert suppression.approver == "alice@example.com"
    assert suppression.justification == "marked false positive in custom.baseline"
    assert (suppression.created_at, suppression.expires_at) == (NOW, NOW + timedelta(days=30))


def test_the_baseline_excludes_are_applied_as_detect_secrets_filters(
    scan: Scanner, tree: Path
) -> None:
    fakes.write(tree, "fixtures/keys.sh", f"export KEY={fakes.aws_key()}\n")
    fakes.write(tree, "app.sh", f"export KEY={fakes.aws_key()}\n")
    baseline = _detect_secrets_baseline(tree, "--exclude-files", "^fixtures/")
    path = fakes.write(tree, ".secrets.baseline", json.dumps(baseline))

    excludes = read_baseline_excludes(path)
    findings, stats = scan(tree, detectors=excludes)

    assert excludes.exclude_files == ("^fixtures/",)
    # The baseline's own hashes are not findings either, as with `detect-secrets --baseline`.
    assert [f.path for f in findings] == ["app.sh"]
    assert stats.files_skipped["filtered"] == 2


@pytest.mark.parametrize(
    ("text", "problem"),
    [("{not json", "not valid JSON"), ('{"results": []}', "no results object")],
)
def test_a_malformed_baseline_is_refused(tree: Path, text: str, problem: str) -> None:
    path = fakes.write(tree, ".secrets.baseline", text)

    with pytest.raises(BaselineError, match=problem):
        import_baseline(path, now=NOW)
