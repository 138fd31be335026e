"""Loading `threat-model/checklist.yaml`: the repository's own file, and files that break the
rules, each refused whole with the offending item named."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from audits.checklist import (
    DEFAULT_CHECKLIST,
    ChecklistError,
    ChecklistItem,
    load_checklist,
)
from audits.checklist.checks import REGISTRY
from audits.model import CheckKind

REPOSITORY = Path(__file__).resolve().parents[3]

AUTOMATED: dict[str, Any] = {
    "id": "GH-TST-001",
    "title": "An automated item for the loader tests",
    "severity": "high",
    "threats": ["T-PROXY-01"],
    "asvs": ["V2.10.1"],
    "check": "token_expiry_within_max",
}
MANUAL: dict[str, Any] = {
    "id": "GH-TST-002",
    "title": "A manual item for the loader tests",
    "severity": "medium",
    "threats": ["T-API-13"],
    "asvs": ["V9.1.1"],
    "manual": {"evidence_hint": "The TLS configuration and a scan of the endpoint."},
}


def write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "checklist.yaml"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return path


def test_the_default_is_the_repositorys_checklist() -> None:
    assert DEFAULT_CHECKLIST == REPOSITORY / "threat-model" / "checklist.yaml"
    assert load_checklist() == load_checklist(DEFAULT_CHECKLIST)


def test_the_repositorys_checklist_uses_every_registered_check_exactly_once() -> None:
    items = load_checklist()
    used = [item.check for item in items if item.check is not None]
    assert sorted(used) == sorted(REGISTRY)
    assert len(used) == len(set(used))


def test_the_repositorys_checklist_has_manual_attestations() -> None:
    manual = [item for item in load_checklist() if item.kind is CheckKind.MANUAL]
    assert {item.id for item in manual} >= {"GH-NET-001", "GH-OPS-001", "GH-OPS-003"}
    assert all(item.manual is not None and item.manual.max_age_days for item in manual)


def test_a_valid_file_loads_in_order_with_kinds(tmp_path: Path) -> None:
    items = load_checklist(write(tmp_path, {"items": [AUTOMATED, MANUAL]}))
    assert [item.id for item in items] == ["GH-TST-001", "GH-TST-002"]
    assert [item.kind for item in items] == [CheckKind.AUTOMATED, CheckKind.MANUAL]
    assert items[0].threats == ("T-PROXY-01",)
    assert items[1].manual is not None
    assert items[1].manual.max_age_days is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"manual": MANUAL["manual"]}, "item GH-TST-001: item: Value error, an item has either"),
        ({"check": None}, "item GH-TST-001: item: Value error, an item has either"),
        ({"check": "no_such_check"}, "item GH-TST-001: no automated check named 'no_such_check'"),
        ({"severity": "urgent"}, "item GH-TST-001: severity: Input should be"),
        ({"asvs": ["3.3.2"]}, "item GH-TST-001: asvs.0: String should match pattern"),
        ({"asvs": []}, "item GH-TST-001: asvs: Tuple should have at least 1 item"),
        ({"threats": ["PROXY-1"]}, "item GH-TST-001: threats.0: String should match pattern"),
        ({"threats": []}, "item GH-TST-001: threats: Tuple should have at least 1 item"),
        ({"owner": "security"}, "item GH-TST-001: owner: Extra inputs are not permitted"),
        ({"id": "TOK-1"}, "item TOK-1: id: String should match pattern"),
        ({"title": "short"}, "item GH-TST-001: title: String should have at least 10"),
    ],
)
def test_an_invalid_item_is_refused_naming_it(
    tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    broken = {**AUTOMATED, **change}
    path = write(tmp_path, {"items": [MANUAL, broken]})
    with pytest.raises(ChecklistError) as refused:
        load_checklist(path)
    assert str(refused.value).startswith(f"{path}: ")
    assert expected in str(refused.value)


@pytest.mark.parametrize(
    ("manual", "expected"),
    [
        ({"evidence_hint": "a scan"}, "manual.evidence_hint: String should have at least 20"),
        ({"evidence_hint": MANUAL["manual"]["evidence_hint"], "max_age_days": 0}, "max_age_days"),
        ({"hint": "The TLS configuration and a scan."}, "manual.hint: Extra inputs"),
    ],
)
def test_an_invalid_manual_part_is_refused(
    tmp_path: Path, manual: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ChecklistError, match="item GH-TST-002: ") as refused:
        load_checklist(write(tmp_path, {"items": [{**MANUAL, "manual": manual}]}))
    assert expected in str(refused.value)


def test_an_item_without_an_id_is_named_by_position(tmp_path: Path) -> None:
    nameless = {key: value for key, value in AUTOMATED.items() if key != "id"}
    with pytest.raises(ChecklistError, match=r"item #2: id: Field required"):
        load_checklist(write(tmp_path, {"items": [MANUAL, nameless]}))


def test_an_id_used_twice_is_refused(tmp_path: Path) -> None:
    twice = {**MANUAL, "id": AUTOMATED["id"]}
    with pytest.raises(ChecklistError, match="item GH-TST-001: the id is used twice"):
        load_checklist(write(tmp_path, {"items": [AUTOMATED, twice]}))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("items: [unclosed", "not valid YAML"),
        ("- id: GH-TST-001\n", "expected a mapping with an `items` list"),
        ("items: {}\n", "expected a mapping with an `items` list"),
        ({"items": [AUTOMATED], "version": 2}, "unknown top-level keys: version"),
        ({"items": ["GH-TST-001"]}, "item #1: item: Input should be a valid dictionary"),
    ],
)
def test_a_malformed_file_is_refused(tmp_path: Path, content: Any, expected: str) -> None:
    with pytest.raises(ChecklistError) as refused:
        load_checklist(write(tmp_path, content))
    assert expected in str(refused.value)


def test_a_missing_file_is_refused_as_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be read"):
        load_checklist(tmp_path / "absent.yaml")


def test_items_are_immutable() -> None:
    item = ChecklistItem.model_validate(AUTOMATED)
    with pytest.raises(ValueError, match="frozen"):
        item.severity = "low"  # type: ignore[assignment] - the assignment is what is refused
