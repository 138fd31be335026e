"""The scan cache: metadata-only rescans, invalidation, corruption, and what it holds."""

import os
import time
from pathlib import Path

from audits.secrets.cache import FILE_NAME
from audits.secrets.detectors import DetectorSettings
from tests.audits.secrets import fakes
from tests.audits.secrets.conftest import Scanner


def _tree(root: Path) -> list[str]:
    secrets = [fakes.aws_key(), fakes.github_token()]
    fakes.write(root, "a.sh", f"export KEY={secrets[0]}\n")
    fakes.write(root, "b/c.sh", f"export TOKEN={secrets[1]}\n")
    fakes.write(root, "plain.txt", "nothing to see\n")
    return secrets


def test_an_unchanged_tree_is_rescanned_from_metadata_alone(scan: Scanner, tree: Path) -> None:
    _tree(tree)
    first, cold = scan(tree)
    second, warm = scan(tree)

    assert (cold.files_scanned, cold.files_cached) == (3, 0)
    assert (warm.files_scanned, warm.files_cached) == (0, 3)
    assert second == first


def test_a_changed_file_is_the_only_one_read_again(scan: Scanner, tree: Path) -> None:
    _tree(tree)
    scan(tree)
    replacement = fakes.stripe_key()
    fakes.write(tree, "plain.txt", f"now with {replacement}\n")
    (tree / "b" / "c.sh").unlink()

    findings, stats = scan(tree)

    assert (stats.files_seen, stats.files_scanned, stats.files_cached) == (2, 1, 1)
    assert sorted(f.rule for f in findings) == ["AWS Access Key", "Stripe Access Key"]


def test_a_file_modified_after_the_scan_began_is_not_trusted_next_time(
    scan: Scanner, tree: Path
) -> None:
    _tree(tree)
    future = time.time_ns() + 3600 * 10**9
    os.utime(tree / "a.sh", ns=(future, future))
    scan(tree)

    _, stats = scan(tree)

    assert (stats.files_scanned, stats.files_cached) == (1, 2)


def test_other_detection_settings_miss_the_cache(scan: Scanner, tree: Path) -> None:
    secrets = _tree(tree)
    scan(tree)
    excluding = DetectorSettings(exclude_lines=(secrets[0],))

    findings, stats = scan(tree, detectors=excluding)

    assert excluding.key != DetectorSettings().key
    assert (stats.files_scanned, stats.files_cached) == (3, 0)
    assert [f.rule for f in findings] == ["GitHub Token"]


def test_a_corrupt_cache_is_discarded_and_rebuilt(scan: Scanner, tree: Path) -> None:
    _tree(tree)
    scan(tree)
    database = scan.cache_dir / FILE_NAME
    database.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)

    findings, recovered = scan(tree)
    _, again = scan(tree)

    assert len(findings) == 2
    assert (recovered.files_scanned, again.files_cached) == (3, 3)


def test_the_cache_holds_hashes_and_previews_never_secrets(scan: Scanner, tree: Path) -> None:
    secrets = _tree(tree)
    scan(tree)

    stored = b"".join(path.read_bytes() for path in scan.cache_dir.iterdir())

    assert stored
    for secret in secrets:
        assert secret.encode() not in stored
        assert secret[4:-2].encode() not in stored


def test_no_cache_reads_everything_and_writes_nothing(scan: Scanner, tree: Path) -> None:
    _tree(tree)
    scan(tree, use_cache=False)

    _, stats = scan(tree, use_cache=False)

    assert stats.files_scanned == 3
    assert not scan.cache_dir.exists()
