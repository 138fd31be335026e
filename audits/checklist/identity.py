"""Identity checks: the user mode matches the accounts that exist, and passwords are hashed at
or above OWASP's argon2id minimum.

Isolation between workspaces is the same code in both modes (RFC 0001 §4); what
`GATEHOUSE_MULTI_USER` changes is whether users, workspaces and members may be created. Several
active accounts on a single-user deployment mean the mode was switched back, or accounts were
made outside the API: either way the deployment is not what its settings say.

These checks read through the identity repository, not its service: they run as the system, with no
principal to authorize, and ask about the whole instance.
"""

import secrets
from dataclasses import dataclass

from argon2 import Parameters, Type, extract_parameters
from argon2.exceptions import InvalidHashError

from audits.checklist.context import Check, CheckContext, Outcome, failed, listing, passed, plural
from controlplane.identity import repository as identity_repository
from controlplane.identity.models import User


def multi_user_isolation(ctx: CheckContext) -> Outcome:
    users = identity_repository.list_users(ctx.session)
    active = [user for user in users if user.disabled_at is None]
    disabled = len(users) - len(active)
    accounts = plural(len(active), "active user") + (f" ({disabled} disabled)" if disabled else "")
    if ctx.settings.multi_user:
        return passed(f"multi-user mode is on (GATEHOUSE_MULTI_USER=true); {accounts}")
    if len(active) <= 1:
        return passed(f"single-user mode with {accounts}")
    return failed(
        f"single-user mode (GATEHOUSE_MULTI_USER=false) but the database holds {accounts}: "
        f"{listing([user.username for user in active])}; set GATEHOUSE_MULTI_USER=true on every "
        "process, or disable the accounts that should not exist"
    )


@dataclass(frozen=True)
class Argon2Floor:
    """OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, 1 lane at least."""

    memory_kib: int = 19_456
    time_cost: int = 2
    parallelism: int = 1

    def shortfalls(self, memory_kib: int, time_cost: int, parallelism: int) -> list[str]:
        found = []
        if memory_kib < self.memory_kib:
            found.append(f"m={memory_kib} KiB < {self.memory_kib}")
        if time_cost < self.time_cost:
            found.append(f"t={time_cost} < {self.time_cost}")
        if parallelism < self.parallelism:
            found.append(f"p={parallelism} < {self.parallelism}")
        return found

    def __str__(self) -> str:
        return f"argon2id m={self.memory_kib} KiB, t={self.time_cost}, p={self.parallelism}"


OWASP_MINIMUM = Argon2Floor()


def _hash_shortfalls(params: Parameters) -> list[str]:
    found = [] if params.type is Type.ID else [f"type {params.type.name.lower()}, not id"]
    return found + OWASP_MINIMUM.shortfalls(
        params.memory_cost, params.time_cost, params.parallelism
    )


def _stored_problem(user: User) -> str | None:
    if user.password_hash is None:
        return None
    try:
        params = extract_parameters(user.password_hash)
    except InvalidHashError:
        return f"{user.username} (not an argon2 hash)"
    shortfalls = _hash_shortfalls(params)
    return f"{user.username} ({', '.join(shortfalls)})" if shortfalls else None


def argon2_parameters(ctx: CheckContext) -> Outcome:
    settings = ctx.settings
    configured = OWASP_MINIMUM.shortfalls(
        settings.argon2_memory_cost, settings.argon2_time_cost, settings.argon2_parallelism
    )
    # What this process really hashes new passwords with: a throwaway password, hashed once.
    fresh = extract_parameters(ctx.container.passwords.hash(secrets.token_urlsafe(16)))
    users = identity_repository.list_users(ctx.session)
    weak = [problem for user in users if (problem := _stored_problem(user)) is not None]
    with_password = sum(1 for user in users if user.password_hash is not None)
    hashes = plural(with_password, "stored password hash", "stored password hashes")
    problems = []
    if configured:
        problems.append(f"GATEHOUSE_ARGON2_* settings below the minimum: {', '.join(configured)}")
    if shortfalls := _hash_shortfalls(fresh):
        problems.append(f"new password hashes below the minimum: {', '.join(shortfalls)}")
    if weak:
        problems.append(
            f"{len(weak)} of {hashes} below the minimum (rehashed at their next login): "
            f"{listing(weak)}"
        )
    if problems:
        return failed(f"{'; '.join(problems)}; the minimum is {OWASP_MINIMUM}")
    stored = {
        0: "no user has a password yet",
        1: "the only stored password hash meets it",
    }.get(with_password, f"all {hashes} meet it")
    return passed(
        f"new password hashes use argon2id m={fresh.memory_cost} KiB, t={fresh.time_cost}, "
        f"p={fresh.parallelism}, at or above the minimum of {OWASP_MINIMUM}; {stored}"
    )


CHECKS: dict[str, Check] = {
    "multi_user_isolation": multi_user_isolation,
    "argon2_parameters": argon2_parameters,
}
