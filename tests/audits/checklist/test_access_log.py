"""Access-log checks: the spool where the proxy writes (a real spool, real directories and
mounts) and the hash chain as `gatehouse access-log verify` walks it (a real, committed log)."""

import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from audits.checklist.access_log import filesystem_type
from audits.model import CheckStatus
from controlplane.access_log import service
from controlplane.access_log.models import AccessLogEntry
from controlplane.access_log.reader import Entry
from controlplane.access_log.records import AccessRecord
from controlplane.container import Container
from controlplane.db import transaction
from tests.audits.checklist.conftest import Build, result_of

SPOOL = "access_log_spool_durable"
CHAIN = "access_log_chain_intact"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def record(request_id: str, minutes: int = 0) -> AccessRecord:
    return AccessRecord(
        ts=T0 + timedelta(minutes=minutes),
        request_id=request_id,
        method="POST",
        upstream="openai",
        path="/v1/chat/completions",
        decision="allow",
        status=200,
    )


@pytest.fixture
def spooled(build: Build) -> Iterator[Container]:
    """A container whose spool has taken a record, as after the first proxied request."""
    container = build()
    container.spool.begin(record("req-00000001"))
    try:
        yield container
    finally:
        container.spool.close()
        container.spool.release()


def test_a_spool_not_created_yet_passes_when_its_home_is_writable(
    build: Build, tmp_path: Path
) -> None:
    result = result_of(build(), SPOOL)
    assert result.status is CheckStatus.PASS, result.explanation
    spool = tmp_path / "home" / "spool"
    assert f"{spool} does not exist yet; the first proxied request creates it in" in (
        result.explanation
    )
    assert "fsyncs the spool every 0.1 s" in result.explanation


def test_a_private_spool_passes(spooled: Container) -> None:
    result = result_of(spooled, SPOOL)
    assert result.status is CheckStatus.PASS, result.explanation
    assert f"{spooled.spool.directory} is a private directory writable by this process" in (
        result.explanation
    )
    assert f"filesystem {filesystem_type(spooled.spool.directory)}" in result.explanation


def test_a_spool_others_can_read_fails(spooled: Container) -> None:
    spooled.spool.directory.chmod(0o755)
    result = result_of(spooled, SPOOL)
    assert result.status is CheckStatus.FAIL
    assert f"{spooled.spool.directory} has mode 0755, needs 0700" in result.explanation


def test_a_spool_path_that_is_not_a_directory_fails(build: Build) -> None:
    container = build()
    container.spool.directory.parent.mkdir(parents=True, exist_ok=True)
    container.spool.directory.write_text("")
    result = result_of(container, SPOOL)
    assert result.status is CheckStatus.FAIL
    assert f"{container.spool.directory} exists but is not a directory" in result.explanation


def test_a_spool_on_tmpfs_fails(build: Build) -> None:
    shm = Path("/dev/shm")  # noqa: S108 - the one tmpfs mount a Linux test host has
    if filesystem_type(shm) != "tmpfs":
        pytest.skip("no tmpfs at /dev/shm on this host")
    home = Path(tempfile.mkdtemp(dir=shm))
    try:
        result = result_of(build(home=home), SPOOL)
    finally:
        shutil.rmtree(home)
    assert result.status is CheckStatus.FAIL
    assert f"{home / 'spool'} is on tmpfs, which does not survive a reboot" in result.explanation


def test_filesystem_type_reads_the_longest_mount_point_and_escapes(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
        "30 27 0:27 / /var/lib rw,relatime shared:5 - xfs /dev/vdb rw\n"
        "31 30 0:28 / /var/lib/my\\040home rw,relatime - tmpfs tmpfs rw\n"
        "32 27 0:29 / /var/lib rw,relatime - overlay overlay rw\n"
        "malformed line\n"
        "33 27 0:30 / /var rw shared:9 -\n"
    )
    assert filesystem_type(Path("/srv/gatehouse"), mountinfo) == "ext4"
    assert filesystem_type(Path("/var/lib/my home/spool"), mountinfo) == "tmpfs"
    # /var/lib mounted twice: the later line is the one on top.
    assert filesystem_type(Path("/var/lib/gatehouse"), mountinfo) == "overlay"
    assert filesystem_type(Path("/var/lib/myhome"), mountinfo) == "overlay"
    assert filesystem_type(Path("/srv"), tmp_path / "absent") is None


def append(container: Container, count: int) -> None:
    with transaction(container.session_factory) as session:
        service.append(
            session, [Entry(f"entry-{i}", record(f"req-{i:08d}", i)) for i in range(count)]
        )


def test_an_empty_log_passes(committed_container: Container) -> None:
    result = result_of(committed_container, CHAIN)
    assert result.status is CheckStatus.PASS
    assert result.explanation == "the access log holds no records after seq 0"


def test_an_untouched_chain_passes_with_its_head(committed_container: Container) -> None:
    append(committed_container, 3)
    with transaction(committed_container.session_factory, read_only=True) as session:
        head = service.verify(session).head
    result = result_of(committed_container, CHAIN)
    assert result.status is CheckStatus.PASS
    assert result.explanation == (
        f"the access-log hash chain verifies: 3 records, seq 1-3, head hash {head.hash}"
    )


def test_a_tampered_row_fails_naming_its_seq(committed_container: Container) -> None:
    append(committed_container, 3)
    with committed_container.engine.begin() as connection:
        connection.execute(update(AccessLogEntry).where(AccessLogEntry.seq == 2).values(status=500))
    result = result_of(committed_container, CHAIN)
    assert result.status is CheckStatus.FAIL
    assert result.explanation == (
        "the access-log hash chain is broken (3 records read, seq 1-3): "
        "seq 2: contents do not match its hash (modified row)"
    )
