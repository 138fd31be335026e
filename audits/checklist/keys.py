"""Key checks: no key is a placeholder, and every key file is readable by its owner only.

The keys: the token HMAC key and the master data key (symmetric; inline from the environment,
from a configured file, or generated under `<home>/keys`), the data keys retired by a rotation,
the Ed25519 keys that sign session JWTs (`<home>/keys/signing/*.pem` or `signing_key_file`) and
the Ed25519 key that signs runtime credentials (`runtime_signing_key_path`).

A key given inline (`GATEHOUSE_TOKEN_HMAC_KEY`, `GATEHOUSE_DATA_KEY`) has no file and so no mode:
it is still checked for strength, and the explanation says that the process environment is
what protects it (the host-access attestation covers that). An Ed25519 key has no weak values
to look for, so only its file is checked; public halves are not secrets and are not checked.
"""

import stat
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from audits.checklist.context import Check, CheckContext, Outcome, failed, listing, passed, plural
from controlplane.config import Settings
from controlplane.kit.envelope import MASTER_KEY_NAME, RETIRED_SUFFIX
from controlplane.kit.keyfiles import MIN_KEY_BYTES, is_placeholder

# The name `Container.build` generates the token key under: `<home>/keys/token-hmac.key`.
HMAC_KEY_FILE_STEM = "token-hmac"


@dataclass(frozen=True)
class KeySource:
    label: str
    path: Path | None = None  # None: given inline
    variable: str | None = None  # the environment variable an inline key comes from


def _symmetric(
    label: str,
    name: str,
    variable: str,
    inline: SecretStr | None,
    file: Path | None,
    keys_dir: Path,
) -> KeySource:
    """Where `load_symmetric_key` takes it from, in the same order."""
    if inline is not None:
        return KeySource(label, variable=variable)
    return KeySource(label, file or keys_dir / f"{name}.key")


def key_sources(settings: Settings) -> list[KeySource]:
    keys_dir = settings.keys_dir
    sources = [
        _symmetric(
            "token HMAC key",
            HMAC_KEY_FILE_STEM,
            "GATEHOUSE_TOKEN_HMAC_KEY",
            settings.token_hmac_key,
            settings.token_hmac_key_file,
            keys_dir,
        ),
        _symmetric(
            "data key",
            MASTER_KEY_NAME,
            "GATEHOUSE_DATA_KEY",
            settings.data_key,
            settings.data_key_file,
            keys_dir,
        ),
    ]
    sources += [
        KeySource("retired data key", path)
        for path in sorted(keys_dir.glob(f"{MASTER_KEY_NAME}.*{RETIRED_SUFFIX}"))
    ]
    signing = (
        [settings.signing_key_file]
        if settings.signing_key_file is not None
        else sorted((keys_dir / "signing").glob("*.pem"))
    )
    sources += [KeySource("session signing key", path) for path in signing]
    sources.append(KeySource("runtime signing key", settings.runtime_signing_key_path))
    return sources


def _file_problem(label: str, path: Path) -> str | None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return f"{label} {path} is missing"
    if mode & 0o077:
        return f"{label} {path} has mode {mode:04o}, needs 0600 (owner only)"
    return None


def _value_problems(ctx: CheckContext) -> list[str]:
    """The symmetric keys as the container holds them: whatever their source, in memory."""
    problems = []
    weak = f"is a placeholder, shorter than {MIN_KEY_BYTES} bytes or repetitive"
    for label, raw in (
        ("token HMAC key", ctx.container.token_key),
        ("data key", ctx.container.data_key),
    ):
        if is_placeholder(raw):
            problems.append(f"the {label} {weak}")
    if ctx.container.token_key == ctx.container.data_key:
        problems.append("the token HMAC key and the data key are the same bytes")
    return problems


def keys_private_and_not_default(ctx: CheckContext) -> Outcome:
    sources = key_sources(ctx.settings)
    files = [(source.label, source.path) for source in sources if source.path is not None]
    inline = [source for source in sources if source.path is None]
    problems = [problem for file in files if (problem := _file_problem(*file)) is not None]
    problems += _value_problems(ctx)
    if problems:
        return failed(f"{plural(len(problems), 'key problem')}: {'; '.join(problems)}")
    explanation = (
        f"{len(files)} key files are readable by their owner only: "
        f"{listing([str(path) for _, path in files])}; the token HMAC key and the data key "
        f"are at least {MIN_KEY_BYTES} bytes, not placeholders, and distinct"
    )
    if inline:
        given = ", ".join(f"the {source.label} from {source.variable}" for source in inline)
        explanation += (
            f"; {given}: given inline, so there is no file mode to check, and the process "
            "environment is what protects it"
        )
    return passed(explanation)


CHECKS: dict[str, Check] = {"keys_private_and_not_default": keys_private_and_not_default}
