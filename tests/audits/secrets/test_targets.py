"""Which files a scan reads, and why it skips the others."""

import os
from pathlib import Path

from audits.config import AuditConfig
from audits.secrets.targets import select
from tests.audits.secrets import fakes
from tests.audits.secrets.conftest import Scanner


def _paths(root: Path, config: AuditConfig | None = None) -> set[str]:
    return {target.path for target in select(root, config or AuditConfig()).targets}


def test_lock_files_and_minified_files_are_skipped_unless_configured(tree: Path) -> None:
    for name in ("poetry.lock", "web/package-lock.json", "web/app.min.js", "web/app.js.map"):
        fakes.write(tree, name, "{}\n")
    fakes.write(tree, "web/app.js", "export {};\n")

    selection = select(tree, AuditConfig())
    keep_all = AuditConfig(skip_lock_files=False, skip_minified=False)
    custom = AuditConfig(lock_files=["*.lock"], minified=["*.js"])

    assert {t.path for t in selection.targets} == {"web/app.js"}
    assert dict(selection.skipped) == {"lock_file": 2, "minified": 2}
    assert selection.seen == 5
    assert len(_paths(tree, keep_all)) == 5
    assert _paths(tree, custom) == {"web/package-lock.json", "web/app.js.map"}


def test_exclude_globs_cover_files_and_whole_directories(tree: Path) -> None:
    for name in ("src/app.py", "tests/fixtures/keys/a.pem", "tests/test_app.py", "docs/x.pem"):
        fakes.write(tree, name, "x\n")

    config = AuditConfig(exclude=["tests/fixtures", "*.pem"])
    selection = select(tree, config)

    assert {t.path for t in selection.targets} == {"src/app.py", "tests/test_app.py"}
    assert selection.skipped["excluded"] == 2


def test_files_over_the_size_cap_are_skipped(tree: Path) -> None:
    fakes.write(tree, "small.txt", "x" * 100)
    fakes.write(tree, "big.txt", "x" * 101)

    selection = select(tree, AuditConfig(max_file_bytes=100))

    assert {t.path for t in selection.targets} == {"small.txt"}
    assert selection.skipped["too_large"] == 1


def test_gitignore_files_nest_negate_and_prune_directories(tree: Path) -> None:
    fakes.write(tree, ".gitignore", "*.log\nbuild/\nsecrets.env\n")
    fakes.write(tree, "app.log", "x\n")
    fakes.write(tree, "build/out.txt", "x\n")
    fakes.write(tree, "svc/.gitignore", "!keep.log\n/local.txt\n")
    fakes.write(tree, "svc/keep.log", "x\n")
    fakes.write(tree, "svc/drop.log", "x\n")
    fakes.write(tree, "svc/local.txt", "x\n")
    fakes.write(tree, "svc/deep/local.txt", "x\n")
    fakes.write(tree, "svc/deep/secrets.env", "x\n")
    fakes.write(tree, ".git/config", "x\n")

    selection = select(tree, AuditConfig())

    assert {t.path for t in selection.targets} == {
        ".gitignore",
        "svc/.gitignore",
        "svc/keep.log",
        "svc/deep/local.txt",
    }
    # build/ is pruned unseen; the four ignored files are counted.
    assert selection.skipped["gitignored"] == 4
    assert len(_paths(tree, AuditConfig(respect_gitignore=False))) == 9


def test_a_git_checkout_scans_its_tracked_files(tree: Path) -> None:
    fakes.init_repo(tree)
    fakes.write(tree, "tracked.py", "x = 1\n")
    fakes.write(tree, "gone.py", "x = 1\n")
    fakes.commit(tree, "first")
    (tree / "gone.py").unlink()
    fakes.write(tree, "untracked.py", "x = 2\n")

    selection = select(tree, AuditConfig())

    assert {t.path for t in selection.targets} == {"tracked.py"}
    assert dict(selection.skipped) == {"not_a_file": 1}
    assert _paths(tree, AuditConfig(respect_gitignore=False)) == {"tracked.py", "untracked.py"}


def test_symlinks_are_not_followed(tree: Path, tmp_path: Path) -> None:
    outside = fakes.write(tmp_path, "outside/secret.txt", "x\n")
    (tree / "link.txt").symlink_to(outside)
    fakes.write(tree, "real.txt", "x\n")

    selection = select(tree, AuditConfig())

    assert {t.path for t in selection.targets} == {"real.txt"}
    assert selection.skipped["not_a_file"] == 1


def test_workers_skip_binaries_and_detect_secrets_filename_filters(
    scan: Scanner, tree: Path
) -> None:
    (tree / "blob.dat").write_bytes(b"\x00\xff\xfe" + os.urandom(64) + b"\xff")
    (tree / "logo.png").write_bytes(b"\x89PNG\r\n")
    fakes.write(tree, "api/swagger.json", f'{{"key": "{fakes.aws_key()}"}}\n')
    fakes.write(tree, "ok.txt", f"{fakes.aws_key()}\n")

    findings, stats = scan(tree)

    assert [f.path for f in findings] == ["ok.txt"]
    assert stats.files_skipped == {"binary": 2, "filtered": 1}
    assert stats.files_seen == stats.files_scanned + sum(stats.files_skipped.values()) == 4
