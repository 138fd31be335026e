"""The threat model stays true to the repository: every threat a checklist item names is
defined, every file it cites exists, and the flows not built yet say so."""

import re
from pathlib import Path

import pytest

from audits.checklist import load_checklist

REPOSITORY = Path(__file__).resolve().parents[3]
FOLDER = REPOSITORY / "threat-model"
DOCUMENTS = sorted(FOLDER.glob("*.md"))
PLANNED_FLOWS = ("public-status-pages.md", "support-desk.md")

THREAT_ROW = re.compile(r"^\|\s*(T-[A-Z]+-\d{2})\s*\|", re.MULTILINE)
# A repository file named in backticks: `controlplane/tokens/service.py`, `docker-compose.yml`.
CITED_PATH = re.compile(r"`([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*\.(?:py|md|ya?ml|toml|lock))`")


def defined_threats() -> dict[str, list[str]]:
    """Threat id → the files whose STRIDE tables define it."""
    found: dict[str, list[str]] = {}
    for document in DOCUMENTS:
        for threat in THREAT_ROW.findall(document.read_text(encoding="utf-8")):
            found.setdefault(threat, []).append(document.name)
    return found


def test_the_folder_has_the_readme_and_one_file_per_flow() -> None:
    names = {document.name for document in DOCUMENTS}
    assert "README.md" in names
    assert len(names) == 6
    readme = (FOLDER / "README.md").read_text(encoding="utf-8")
    for name in names - {"README.md"}:
        assert f"]({name})" in readme, f"README.md does not link {name}"


def test_threat_ids_are_defined_once_each_file_with_its_own_prefix() -> None:
    threats = defined_threats()
    assert len(threats) >= 40
    twice = {threat: files for threat, files in threats.items() if len(files) > 1}
    assert not twice, f"threats defined more than once: {twice}"
    prefixes: dict[str, set[str]] = {}
    for threat, files in threats.items():
        prefixes.setdefault(files[0], set()).add(threat.rsplit("-", 1)[0])
    assert len(prefixes) == 5
    mixed = {file: found for file, found in prefixes.items() if len(found) != 1}
    assert not mixed, f"files mixing threat prefixes: {mixed}"


def test_every_threat_a_checklist_item_names_is_defined() -> None:
    threats = defined_threats()
    for item in load_checklist():
        missing = [threat for threat in item.threats if threat not in threats]
        assert not missing, f"{item.id} names undefined threats: {missing}"


def test_every_threat_cited_in_the_documents_is_defined() -> None:
    threats = defined_threats()
    for document in DOCUMENTS:
        cited = set(re.findall(r"\bT-[A-Z]+-\d{2}\b", document.read_text(encoding="utf-8")))
        assert cited <= set(threats), f"{document.name} cites {sorted(cited - set(threats))}"


def test_every_checklist_item_cited_in_the_documents_exists() -> None:
    items = {item.id for item in load_checklist()}
    for document in DOCUMENTS:
        cited = set(re.findall(r"\bGH-[A-Z]+-\d{3}\b", document.read_text(encoding="utf-8")))
        assert cited <= items, f"{document.name} cites {sorted(cited - items)}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_cited_file_exists(document: Path) -> None:
    cited = CITED_PATH.findall(document.read_text(encoding="utf-8"))
    missing = [
        path
        for path in cited
        if not (REPOSITORY / path).is_file() and not (FOLDER / path).is_file()
    ]
    assert not missing, f"{document.name} cites files that do not exist: {missing}"
    if document.name not in ("README.md", *PLANNED_FLOWS):
        assert any(path.startswith("tests/") for path in cited), "no test is cited"


@pytest.mark.parametrize("name", PLANNED_FLOWS)
def test_flows_not_built_yet_say_so_on_every_threat(name: str) -> None:
    text = (FOLDER / name).read_text(encoding="utf-8")
    assert "**Not built yet.**" in text
    rows = [line for line in text.splitlines() if THREAT_ROW.match(line)]
    assert rows
    for row in rows:
        assert "planned — not built yet" in row.lower(), row
