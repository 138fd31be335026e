"""Access-log checks: the spool can hold records durably, and the hash chain verifies.

What is built in and not configurable, so only stated: the proxy writes a record to the spool
before it forwards (and answers 503 when it cannot: it fails closed), and the flusher fsyncs the
spool every `SYNC_SECONDS`. What a deployment can get wrong, and so is checked: where the spool
lives (`<home>/spool`): that it is a directory, private (records name clients, paths and
token accessors), writable by this process, and on a filesystem that survives a reboot.
"""

import os
import re
import stat
from pathlib import Path

from audits.checklist.context import Check, CheckContext, Outcome, failed, passed
from controlplane.access_log import service
from controlplane.access_log.flusher import SYNC_SECONDS

MOUNTINFO = Path("/proc/self/mountinfo")
# Gone at reboot or power loss: a record spooled there and not yet flushed is lost.
VOLATILE_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    """mountinfo writes spaces and the like in mount points as octal escapes (`\\040`)."""
    return _OCTAL_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), field)


def filesystem_type(path: Path, mountinfo: Path = MOUNTINFO) -> str | None:
    """The type of the filesystem `path` lives on (Linux), or None where it cannot be told."""
    try:
        lines = mountinfo.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    target = os.path.realpath(path)
    found: tuple[str, str] | None = None
    for line in lines:
        # id parent major:minor root mount-point options [optional fields] - type source ...
        fields = line.split()
        separator = fields.index("-", 6) if "-" in fields[6:] else len(fields)
        if separator + 1 >= len(fields):
            continue
        mount_point, fstype = _unescape(fields[4]), fields[separator + 1]
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        # The longest mount point wins; for the same one, the later line is the one on top.
        if inside and (found is None or len(mount_point) >= len(found[0])):
            found = (mount_point, fstype)
    return None if found is None else found[1]


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _directory_problems(directory: Path) -> list[str]:
    if not directory.is_dir():
        return [f"{directory} exists but is not a directory: no record can be spooled"]
    problems = []
    mode = stat.S_IMODE(directory.stat().st_mode)
    if mode & 0o077:
        problems.append(f"{directory} has mode {mode:04o}, needs 0700 (owner only)")
    if not os.access(directory, os.W_OK | os.X_OK):
        problems.append(f"{directory} is not writable by this process")
    return problems


def access_log_spool_durable(ctx: CheckContext) -> Outcome:
    directory = ctx.container.spool.directory
    if directory.exists():
        problems = _directory_problems(directory)
        where, state = directory, f"{directory} is a private directory writable by this process"
    else:
        where = _nearest_existing(directory.parent)
        writable = where.is_dir() and os.access(where, os.W_OK | os.X_OK)
        problems = [] if writable else [f"{directory} cannot be created: {where} is not writable"]
        state = f"{directory} does not exist yet; the first proxied request creates it in {where}"
    fstype = filesystem_type(where)
    if fstype in VOLATILE_FILESYSTEMS:
        problems.append(f"{directory} is on {fstype}, which does not survive a reboot")
    notes = [
        f"filesystem {fstype}" if fstype else "filesystem type unknown (no /proc/self/mountinfo)",
        f"the flusher fsyncs the spool every {SYNC_SECONDS:g} s and the proxy refuses (503) what "
        "it cannot spool: both built in, not configurable",
    ]
    if problems:
        return failed(f"the access-log spool is not durable: {'; '.join(problems)} ({notes[0]})")
    return passed(f"{state}; {'; '.join(notes)}")


def access_log_chain_intact(ctx: CheckContext) -> Outcome:
    """What `gatehouse access-log verify` runs, in this check's own transaction."""
    report = service.verify(ctx.session)
    span = f"seq {report.anchor.seq + 1}-{report.head.seq}"
    if not report.intact:
        return failed(
            f"the access-log hash chain is broken ({report.checked} records read, {span}): "
            f"{'; '.join(report.findings)}"
        )
    if report.head.seq == report.anchor.seq:
        return passed(f"the access log holds no records after seq {report.anchor.seq}")
    return passed(
        f"the access-log hash chain verifies: {report.checked} records, {span}, "
        f"head hash {report.head.hash}"
    )


CHECKS: dict[str, Check] = {
    "access_log_spool_durable": access_log_spool_durable,
    "access_log_chain_intact": access_log_chain_intact,
}
