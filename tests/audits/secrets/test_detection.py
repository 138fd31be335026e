"""What a scan finds, and how a finding is built from detect-secrets' result."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from audits.model import Category, Severity, Tool, fingerprint
from tests.audits.secrets import fakes
from tests.audits.secrets.conftest import Scanner

REPO = Path(__file__).resolve().parents[3]
PLUGIN = REPO / "audits" / "secrets" / "gatehouse_plugin.py"


def _sha1(secret: str) -> str:
    return hashlib.sha1(secret.encode(), usedforsecurity=False).hexdigest()


def test_each_kind_is_found_with_its_severity_hash_and_redacted_preview(
    scan: Scanner, tree: Path
) -> None:
    aws, github, token = fakes.aws_key(), fakes.github_token(), fakes.gatehouse_token()
    # Unquoted, so the entropy plugins (which want quotes) do not report the same values.
    fakes.write(tree, "app/settings.sh", f"set -e\n\nexport AWS_ID={aws}\nexport GH={github}\n")
    fakes.write(tree, "deploy/tls.pem", fakes.private_key())
    fakes.write(tree, "ops/notes.txt", f"rotate this one: {token}\n")

    findings, stats = scan(tree)

    by_rule = {finding.rule: finding for finding in findings}
    assert set(by_rule) == {"AWS Access Key", "GitHub Token", "Private Key", "Gatehouse Token"}
    key = by_rule["AWS Access Key"]
    assert (key.path, key.line, key.severity) == ("app/settings.sh", 3, Severity.HIGH)
    assert (key.tool, key.category, key.cwe, key.confidence) == (
        Tool.SECRETS,
        Category.SECRET,
        798,
        None,
    )
    assert key.secret_hash == _sha1(aws)
    assert key.preview == f"{aws[:4]}…{aws[-2:]}"
    expected = fingerprint(Tool.SECRETS, "AWS Access Key", "app/settings.sh", _sha1(aws))
    assert key.fingerprint == expected
    assert aws not in key.message
    assert "app/settings.sh" in key.message
    gatehouse = by_rule["Gatehouse Token"]
    assert (gatehouse.severity, gatehouse.confidence) == (Severity.CRITICAL, "verified")
    assert by_rule["Private Key"].severity == Severity.CRITICAL
    assert [f.severity for f in findings] == sorted(
        (f.severity for f in findings), key=lambda s: -s.rank
    )
    assert findings == sorted(findings, key=lambda f: f.sort_key())
    assert (stats.files_seen, stats.files_scanned) == (3, 3)


def test_a_gatehouse_token_counts_only_with_a_valid_checksum(scan: Scanner, tree: Path) -> None:
    valid = fakes.gatehouse_token()
    look_alike = fakes.broken_checksum(fakes.gatehouse_token())
    fakes.write(tree, "README.md", f"Example: {look_alike}\n\nLeaked: {valid}\n")

    findings, _ = scan(tree)

    assert [(f.rule, f.line, f.secret_hash) for f in findings] == [
        ("Gatehouse Token", 3, _sha1(valid))
    ]


def test_a_pragma_allowlists_its_line_only(scan: Scanner, tree: Path) -> None:
    allowed, reported = fakes.stripe_key(), fakes.stripe_key()
    fakes.write(
        tree, "billing.sh", f"TEST_KEY={allowed}  # pragma: allowlist secret\nLIVE_KEY={reported}\n"
    )

    findings, _ = scan(tree)

    assert [(f.rule, f.line, f.secret_hash) for f in findings] == [
        ("Stripe Access Key", 2, _sha1(reported))
    ]


def test_one_finding_per_file_type_and_secret_at_its_first_line(scan: Scanner, tree: Path) -> None:
    secret = fakes.github_token()
    fakes.write(tree, "a.sh", f"echo start\nexport T={secret}\ncurl -H {secret}\n")
    fakes.write(tree, "b.sh", f"export T={secret}\n")

    findings, _ = scan(tree)

    assert [(f.path, f.line) for f in findings] == [("a.sh", 2), ("b.sh", 1)]


def test_the_fingerprint_survives_a_moved_line_but_not_a_new_secret(
    scan: Scanner, tree: Path
) -> None:
    secret = fakes.aws_key()
    fakes.write(tree, "conf.py", f'KEY = "{secret}"\n')
    [before], _ = scan(tree)
    fakes.write(tree, "conf.py", f'"""Settings."""\n\nimport os\n\nKEY = "{secret}"\n')
    [moved], _ = scan(tree)
    fakes.write(tree, "conf.py", f'KEY = "{fakes.aws_key()}"\n')
    [changed], _ = scan(tree)

    assert (before.line, moved.line) == (1, 5)
    assert moved.fingerprint == before.fingerprint
    assert changed.fingerprint != before.fingerprint


def test_findings_match_detect_secrets_own_scan(scan: Scanner, tree: Path) -> None:
    """The prefilter and the per-line pipeline reproduce detect-secrets exactly, including its
    transformers: YAML values, INI files, and the eager second pass over config-like files."""
    base64_value = fakes.password() + fakes.password() + "+/Zq"
    fakes.write(
        tree,
        "deploy.yaml",
        f"db:\n  password: {fakes.password()}\n  seed: {base64_value}\n  url: postgres://u@h/db\n",
    )
    fakes.write(tree, "app.ini", f"[auth]\nsigning_key = {base64_value}x\nuser = admin\n")
    fakes.write(tree, "credentials", f"token = {base64_value}y\nregion = eu-west-1\n")
    fakes.write(tree, "client.js", f'const apiKey = "{fakes.password()}";\nconst page = 1;\n')
    fakes.write(tree, "main.go", f'password := "{fakes.password()}"\n')
    fakes.write(tree, "keys.txt", fakes.private_key() + f"aws {fakes.aws_key()}\n")
    fakes.write(tree, "notes.md", "nothing here\n" * 50)
    findings, _ = scan(tree)
    command = [str(Path(sys.executable).parent / "detect-secrets"), "scan", "--all-files", "-n"]
    done = subprocess.run(  # noqa: S603 - the detect-secrets command line, fixed arguments
        [*command, "--plugin", str(PLUGIN), "."],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    expected = {
        (name, entry["type"], entry["hashed_secret"], entry["line_number"])
        for name, entries in json.loads(done.stdout)["results"].items()
        for entry in entries
    }

    assert {(f.path, f.rule, f.secret_hash, f.line) for f in findings} == expected
    assert {"Base64 High Entropy String", "Secret Keyword", "Private Key"} <= {
        e[1] for e in expected
    }
