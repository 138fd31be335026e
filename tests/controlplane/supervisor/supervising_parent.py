"""A control-plane stand-in for the orphan test: supervise the fake runtime, then wait forever.

    python -m tests.controlplane.supervisor.supervising_parent DIRECTORY PIDFILE

Writes the child's pid to PIDFILE once it is up; the test then kills this process with SIGKILL,
so no shutdown code of ours runs, and watches the child.
"""

import asyncio
import sys
from pathlib import Path

from controlplane.supervisor.supervisor import RuntimeSupervisor
from tests.controlplane.supervisor.helpers import FakeRuntime, until


async def main(directory: Path, pidfile: Path) -> None:
    fake = FakeRuntime(directory)
    supervisor = RuntimeSupervisor(fake.settings(), command=fake.command())
    await supervisor.start()
    await until(lambda: supervisor.status().state == "up", "the runtime is up")
    await asyncio.to_thread(pidfile.write_text, str(supervisor.status().pid))
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
