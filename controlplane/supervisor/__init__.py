"""Starting, watching and reporting on the streaming runtime that serves agent runs.

`supervisor.RuntimeSupervisor` launches the runtime as a child process (or, when
`GATEHOUSE_RUNTIME_URL` names one already running, only watches it), health-checks it,
restarts it with exponential backoff, and answers `GET /v1/runtime/status`.
"""
