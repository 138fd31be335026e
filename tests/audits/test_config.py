"""The scan root's `.gatehouse-audit.yaml`: defaults, exclusions, and suppressions that must
say why, who and until when; a broken file is refused with the entry named."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from audits.config import CONFIG_FILE, AuditConfig, ConfigError, load_config

VALID = """
exclude: [tests/fixtures]
max_file_bytes: 1000
suppressions:
  - rule: B101
    path_glob: tests/*
    justification: asserts are how pytest checks things
    approver: security-team
    created: 2026-11-01
    expires: 2027-05-01
"""


def test_a_tree_without_the_file_gets_the_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path) == AuditConfig()


def test_the_file_at_the_root_is_read(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text(VALID)
    config = load_config(tmp_path)
    assert config.exclude == ["tests/fixtures"]
    assert config.max_file_bytes == 1000
    [suppression] = config.file_suppressions()
    assert suppression.rule == "B101"
    assert suppression.path_glob == "tests/*"
    assert suppression.expires_at == datetime(2027, 5, 1, tzinfo=UTC)


def test_an_explicit_file_wins_and_must_exist(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.yaml"
    other.write_text("exclude: [docs]\n")
    assert load_config(tmp_path, other).exclude == ["docs"]
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path, tmp_path / "missing.yaml")


GOOD_ENTRY = {
    "rule": "B101",
    "justification": "long enough reason",
    "approver": "a",
    "created": "2026-11-01",
    "expires": "2027-01-01",
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"expires": None}, "suppressions.0.expires"),
        ({"justification": "short"}, "suppressions.0.justification"),
        ({"rule": None}, "names a fingerprint or a rule"),
        ({"expires": "2026-10-01"}, "expires after it is created"),
        ({"colour": "red"}, "suppressions.0.colour"),
    ],
)
def test_a_suppression_without_reason_approver_or_expiry_is_refused(
    tmp_path: Path, change: dict[str, str | None], problem: str
) -> None:
    entry = {key: value for key, value in {**GOOD_ENTRY, **change}.items() if value is not None}
    (tmp_path / CONFIG_FILE).write_text(yaml.safe_dump({"suppressions": [entry]}))
    with pytest.raises(ConfigError, match=problem) as refused:
        load_config(tmp_path)
    assert CONFIG_FILE in str(refused.value)


def test_invalid_yaml_and_empty_globs_are_refused(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text("exclude: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path)
    (tmp_path / CONFIG_FILE).write_text("exclude: ['  ']\n")
    with pytest.raises(ConfigError, match="empty glob"):
        load_config(tmp_path)


def test_this_repository_s_own_configuration_is_valid() -> None:
    config = load_config(Path(__file__).resolve().parents[2])
    assert all(s.expires_at > s.created_at for s in config.file_suppressions())
