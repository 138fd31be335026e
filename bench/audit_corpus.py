"""The secret-scan benchmark's corpus: this repository's tracked files plus a generated tree.

The generated tree looks like a company's services: Python and JavaScript (with some Go, Java
and TypeScript), YAML deployment and CI files, JSON data and packages, Markdown docs, `.env`
examples, INI/TOML/properties configuration, shell scripts, CSV, a few binary images, and a few
large files (JSON fixtures, an OpenAPI document, a generated Python module, a log and a long
Markdown reference) just under the default 2 MiB size cap, so both scanners read them. About
one file in thirty has a planted secret of a known kind; some carry an allowlist pragma, and
some Gatehouse-token look-alikes have a broken checksum. Everything comes from one seeded
random generator, so the same arguments build the same bytes.

Nothing is tuned for either scanner: no minified files, lock files or git-ignored names, which
only one of them would skip, and the ordinary files are ordinary.
"""

import random
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import audit_content as content
from bench.audit_plants import ALLOWLIST, LINE_PLANTS, private_key

REPO = Path(__file__).resolve().parents[1]
LARGE_FILE_BYTES = 1_900_000  # under AuditConfig.max_file_bytes (2 MiB)
PLANT_RATE = 1 / 30

Generator = Callable[[random.Random], str | bytes]
LargeGenerator = Callable[[random.Random, int], str]
# Each kind of file: its weight, directory, name ending and content generator.
KINDS: list[tuple[int, str, str, Generator]] = [
    (26, "src", ".py", content.python_module),
    (12, "web/src", ".js", content.javascript_module),
    (4, "web/src", ".ts", content.javascript_module),
    (3, "cmd", ".go", content.go_file),
    (3, "java", ".java", content.java_class),
    (11, "deploy", ".yaml", content.yaml_document),
    (10, "data", ".json", content.json_document),
    (10, "docs", ".md", content.markdown_document),
    (3, "config", ".env.example", content.env_file),
    (6, "config", ".ini", content.ini_file),
    (3, "config", ".toml", content.ini_file),
    (2, "config", ".properties", content.properties_file),
    (4, "scripts", ".sh", content.shell_script),
    (2, "data", ".csv", content.csv_file),
    (1, "assets", ".png", content.binary_blob),
]
LARGE: list[tuple[str, LargeGenerator]] = [
    ("data/fixtures.json", content.large_json),
    ("app/schema_generated.py", content.large_python),
    ("logs/access-sample.log", content.large_log),
    ("docs/api-reference.md", content.large_markdown),
    ("deploy/openapi.yaml", content.large_yaml),
]


@dataclass
class Corpus:
    root: Path
    copied: int = 0
    generated: int = 0
    large: int = 0
    planted: Counter[str] = field(default_factory=Counter)

    @property
    def files(self) -> int:
        return self.copied + self.generated + self.large


def copy_repository(repo: Path, target: Path) -> int:
    listed = subprocess.run(  # noqa: S603 - fixed git arguments, no shell
        ["git", "-C", str(repo), "ls-files", "-z"],  # noqa: S607 - git from PATH
        capture_output=True,
        check=True,
    ).stdout.decode()
    copied = 0
    for name in filter(None, listed.split("\0")):
        source = repo / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / name)
            copied += 1
    return copied


def _plant(rng: random.Random, text: str, corpus: Corpus) -> str:
    """One planted secret on a new line somewhere in the text (binary files excluded)."""
    lines = text.split("\n")
    if rng.random() < 0.05:
        lines.insert(rng.randrange(len(lines) + 1), private_key(rng))
        corpus.planted["private_key"] += 1
        return "\n".join(lines)
    kind = rng.choice(sorted(LINE_PLANTS))
    make, forms = LINE_PLANTS[kind]
    line = rng.choice(forms).format(v=make(rng))
    if rng.random() < 0.1:
        line += ALLOWLIST
        kind += "_allowlisted"
    lines.insert(rng.randrange(len(lines) + 1), line)
    corpus.planted[kind] += 1
    return "\n".join(lines)


def _write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


def build(
    target: Path,
    *,
    files: int,
    large: int = len(LARGE),
    large_bytes: int = LARGE_FILE_BYTES,
    seed: int = 1729,
    repo: Path | None = REPO,
) -> Corpus:
    corpus = Corpus(target)
    target.mkdir(parents=True, exist_ok=True)
    if repo is not None:
        corpus.copied = copy_repository(repo, target / "repository")
    rng = random.Random(seed)
    weights = [kind[0] for kind in KINDS]
    for index in range(files):
        _, directory, extension, generate = rng.choices(KINDS, weights)[0]
        service = content.SERVICES[index % len(content.SERVICES)]
        name = f"{content.identifier(rng)}_{index}{extension}"
        text = generate(rng)
        if isinstance(text, str) and rng.random() < PLANT_RATE:
            text = _plant(rng, text, corpus)
        _write(target / "generated" / service / directory / name, text)
        corpus.generated += 1
    for name, make_large in LARGE[:large]:
        large_text = make_large(rng, large_bytes)
        for _ in range(3):
            large_text = _plant(rng, large_text, corpus)
        _write(target / "generated" / "large" / name, large_text)
        corpus.large += 1
    return corpus
