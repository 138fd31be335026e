"""History scans: every committed blob once, each finding with the commits that held it."""

from pathlib import Path

import pytest

from audits.secrets import SecretScanError
from tests.audits.secrets import fakes
from tests.audits.secrets.conftest import Scanner


@pytest.fixture
def repo(tree: Path) -> tuple[Path, str, list[str]]:
    """A secret committed, kept through an unrelated commit, then deleted."""
    secret = fakes.github_token()
    fakes.init_repo(tree)
    fakes.write(tree, "app/config.sh", f"set -e\nexport GH_TOKEN={secret}\n")
    fakes.write(tree, "README.md", "# App\n")
    added = fakes.commit(tree, "add the app")
    fakes.write(tree, "README.md", "# App\n\nHow to run it.\n")
    kept = fakes.commit(tree, "docs")
    fakes.write(tree, "app/config.sh", 'set -e\nexport GH_TOKEN="$(vault read gh)"\n')
    fakes.commit(tree, "read the token from the vault")
    return tree, secret, [added, kept]


def test_a_deleted_secret_is_found_once_with_the_commits_that_held_it(
    scan: Scanner, repo: tuple[Path, str, list[str]]
) -> None:
    root, secret, held = repo

    current, _ = scan(root)
    [finding], stats = scan(root, history=True)

    assert current == []
    assert (finding.rule, finding.path, finding.line) == ("GitHub Token", "app/config.sh", 2)
    assert finding.commits == tuple(held)
    assert "2 commits of the history" in finding.message
    assert secret not in finding.model_dump_json()
    # Two versions of each file: four blobs, each read once.
    assert (stats.commits, stats.blobs, stats.files_scanned) == (3, 4, 4)


def test_a_history_rescan_reads_only_blobs_it_has_not_seen(
    scan: Scanner, repo: tuple[Path, str, list[str]]
) -> None:
    root, _, _ = repo
    first, _ = scan(root, history=True)
    fakes.write(root, "NOTES.md", "more\n")
    fakes.commit(root, "notes")

    second, stats = scan(root, history=True)

    assert second == first
    assert (stats.commits, stats.files_scanned, stats.files_cached) == (4, 1, 4)


def test_a_history_scan_of_a_subdirectory_reports_paths_below_it(
    scan: Scanner, repo: tuple[Path, str, list[str]]
) -> None:
    root, _, held = repo

    [finding], stats = scan(root / "app", history=True)

    assert (finding.path, finding.commits) == ("config.sh", tuple(held))
    assert stats.blobs == 2


def test_a_history_scan_needs_a_git_repository(scan: Scanner, tree: Path) -> None:
    with pytest.raises(SecretScanError, match="git repository"):
        scan(tree, history=True)
