"""Counters that back the bench's proof obligations: SQL statements and argon2 calls."""

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import Engine, event

from controlplane.container import Container

_PASSWORD_METHODS = ("hash", "verify", "needs_rehash")
_ARGON2_METHODS = ("hash", "verify", "check_needs_rehash")


class SqlCounter:
    """Counts every statement SQLAlchemy sends on the given engines (before_cursor_execute)."""

    def __init__(self) -> None:
        self.count = 0

    def _seen(self, *_args: Any) -> None:
        self.count += 1

    @contextmanager
    def watching(self, engines: Iterable[Engine]) -> Iterator["SqlCounter"]:
        engines = list(engines)
        for engine in engines:
            event.listen(engine, "before_cursor_execute", self._seen)
        try:
            yield self
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", self._seen)


class Argon2Counter:
    """Counts calls to `container.passwords` methods and to argon2's PasswordHasher itself.

    The container's methods are wrapped per instance (what the brief asks for); the class-level
    PasswordHasher wrap also catches argon2 use that bypasses `container.passwords`.
    """

    def __init__(self) -> None:
        self.passwords_calls = 0
        self.argon2_calls = 0

    @property
    def total(self) -> int:
        return self.passwords_calls + self.argon2_calls

    def _counting(self, attribute: str, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            setattr(self, attribute, getattr(self, attribute) + 1)
            return original(*args, **kwargs)

        return wrapper

    @contextmanager
    def watching(self, containers: Iterable[Container]) -> Iterator["Argon2Counter"]:
        originals = {name: getattr(PasswordHasher, name) for name in _ARGON2_METHODS}
        patched: list[Any] = []
        for name, original in originals.items():
            setattr(PasswordHasher, name, self._counting("argon2_calls", original))
        try:
            for container in containers:
                passwords = container.passwords
                if any(seen is passwords for seen in patched):
                    continue
                for name in _PASSWORD_METHODS:
                    bound = getattr(passwords, name)
                    setattr(passwords, name, self._counting("passwords_calls", bound))
                patched.append(passwords)
            yield self
        finally:
            for passwords in patched:
                for name in _PASSWORD_METHODS:
                    vars(passwords).pop(name, None)
            for name, original in originals.items():
                setattr(PasswordHasher, name, original)
