"""Ordinary file contents for the secret-scan benchmark's corpus, from a seeded random.

Each generator writes the kind of file a service repository holds, with the usual near-misses a
secret scanner meets: settings read from the environment, `password` fields in forms, hashes
and UUIDs in data, URLs without credentials, version numbers.
"""

import json
import random
from collections.abc import Callable

WORDS = (  # noqa: SIM905 - a word list reads best as running text
    "account access action active address agent alert api archive audit batch billing bucket "
    "buffer cache catalog channel check client cluster config connection consumer context "
    "counter customer dashboard data database default delivery deploy device digest domain "
    "draft email endpoint engine entry event export feature filter flag gateway handler header "
    "health history host identity import index inventory invoice item job key label ledger "
    "limit listener loader local lock log manager message metric migration mode model monitor "
    "node notice order owner package page partner payload payment pipeline plan policy pool "
    "price profile project provider queue quota rate record region release report request "
    "resource response result retry role route rule schedule schema scope search secret "
    "segment sender session setting shard signal snapshot source stage state status storage "
    "store stream subscription summary supplier sync table target task team template tenant "
    "ticket timeout token topic trace tracker transfer trigger usage user value vendor version "
    "webhook window worker workspace zone"
).split()
SERVICES = ("billing", "catalog", "checkout", "identity", "inventory", "notify", "search", "web")
HOSTS = ("api.example.com", "internal.example.net", "registry.example.org", "localhost:8080")


def word(rng: random.Random) -> str:
    return rng.choice(WORDS)


def identifier(rng: random.Random, parts: int = 2) -> str:
    return "_".join(word(rng) for _ in range(parts))


def camel(rng: random.Random, parts: int = 2) -> str:
    first, *rest = (word(rng) for _ in range(parts))
    return first + "".join(part.title() for part in rest)


def title(rng: random.Random) -> str:
    return "".join(word(rng).title() for _ in range(2))


def sentence(rng: random.Random, low: int = 5, high: int = 14) -> str:
    return " ".join(word(rng) for _ in range(rng.randint(low, high))).capitalize() + "."


def uuid(rng: random.Random) -> str:
    digits = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def version(rng: random.Random) -> str:
    return f"{rng.randint(0, 4)}.{rng.randint(0, 30)}.{rng.randint(0, 12)}"


def _python_function(rng: random.Random, indent: str = "") -> list[str]:
    name, arg, field = identifier(rng), word(rng), word(rng)
    body = [
        f"{indent}def {name}(self, {arg}: str, limit: int = {rng.randint(1, 500)}) -> dict:",
        f'{indent}    """{sentence(rng)}"""',
        f"{indent}    if not {arg}:",
        f'{indent}        raise ValueError("{sentence(rng, 3, 6)}")',
        f'{indent}    result = {{"{field}": {arg}, "limit": limit, "{word(rng)}": self.{field}}}',
    ]
    near_misses = [
        [f'{indent}    password = request.form["password"]'],
        [f'{indent}    secret_name = os.environ.get("{word(rng).upper()}_SECRET_NAME")'],
        [f"{indent}    api_key = self.settings.api_key"],
        [f'{indent}    token_url = "https://{rng.choice(HOSTS)}/oauth/token"'],
        [f'{indent}    log.info("refreshed %s for %s", "{word(rng)}", {arg})'],
        [
            f"{indent}    for index, item in enumerate(self.{word(rng)}s[:limit]):",
            f"{indent}        result[str(index)] = item.to_dict()",
        ],
    ]
    for group in rng.sample(near_misses, rng.randint(1, 4)):
        body += group
    return [*body, f"{indent}    return result", ""]


def python_module(rng: random.Random) -> str:
    lines = [f'"""{sentence(rng)}"""', "", "import logging", "import os"]
    lines += [f"from {word(rng)}.{word(rng)} import {title(rng)}" for _ in range(rng.randint(1, 4))]
    lines += ["", "log = logging.getLogger(__name__)", f"DEFAULT_TIMEOUT = {rng.randint(5, 60)}"]
    lines += [f'{identifier(rng).upper()} = "{word(rng)}-{word(rng)}"' for _ in range(3)]
    for _ in range(rng.randint(1, 3)):
        lines += ["", "", f"class {title(rng)}:", f'    """{sentence(rng)}"""', ""]
        lines += [
            "    def __init__(self, settings, client=None):",
            "        self.settings = settings",
        ]
        lines += ["        self.client = client", ""]
        for _ in range(rng.randint(1, 5)):
            lines += _python_function(rng, "    ")
    return "\n".join(lines) + "\n"


def javascript_module(rng: random.Random) -> str:
    lines = [f'import {{ {camel(rng)} }} from "./{word(rng)}";', ""]
    lines += [f'const BASE_URL = "https://{rng.choice(HOSTS)}/v{rng.randint(1, 3)}";']
    for _ in range(rng.randint(2, 6)):
        name, arg = camel(rng), word(rng)
        lines += [
            "",
            f"// {sentence(rng)}",
            f"export async function {name}(client, {arg}, options = {{}}) {{",
            f"  const url = `${{BASE_URL}}/{word(rng)}s/${{{arg}.id}}`;",
            '  const response = await client.fetch(url, { method: "GET", ...options });',
            "  if (!response.ok) {",
            f'    throw new Error("{sentence(rng, 3, 6)}");',
            "  }",
            f"  const {{ {word(rng)}, {word(rng)}s }} = await response.json();",
            f"  return {{ status: response.status, {camel(rng)}: {rng.randint(0, 99)} }};",
            "}",
        ]
    return "\n".join(lines) + "\n"


def go_file(rng: random.Random) -> str:
    lines = [f"package {word(rng)}", "", 'import (\n\t"context"\n\t"fmt"\n)', ""]
    for _ in range(rng.randint(1, 4)):
        lines += [
            f"// {title(rng)} {sentence(rng).lower()}",
            f"func {title(rng)}(ctx context.Context, {word(rng)} string) error {{",
            f'\tpassword := os.Getenv("{word(rng).upper()}_PASSWORD")',
            f'\treturn fmt.Errorf("{word(rng)} %s: %w", password, ctx.Err())',
            "}",
            "",
        ]
    return "\n".join(lines)


def java_class(rng: random.Random) -> str:
    name = title(rng)
    lines = [f"package com.example.{word(rng)};", "", f"public class {name} {{"]
    for _ in range(rng.randint(1, 4)):
        lines += [
            f"    private final String {camel(rng)};",
            f"    public String {camel(rng)}(String {word(rng)}) {{",
            f'        return String.format("%s-{word(rng)}", this.{camel(rng)});',
            "    }",
        ]
    return "\n".join([*lines, "}", ""])


def yaml_document(rng: random.Random) -> str:
    name = f"{rng.choice(SERVICES)}-{word(rng)}"
    lines = [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata:",
        f"  name: {name}",
        f"  labels: {{app: {name}, tier: {word(rng)}}}",
        "spec:",
        f"  replicas: {rng.randint(1, 6)}",
        "  template:",
        "    spec:",
        "      containers:",
        f"        - name: {word(rng)}",
        f"          image: {rng.choice(HOSTS)}/{word(rng)}/{name}:{version(rng)}",
        "          env:",
    ]
    for _ in range(rng.randint(2, 8)):
        variable = identifier(rng).upper()
        if rng.random() < 0.3:
            lines += [f"            - name: {variable}", "              valueFrom:"]
            lines += [f"                secretKeyRef: {{name: {name}, key: {word(rng)}}}"]
        else:
            lines += [f"            - name: {variable}", f'              value: "{word(rng)}"']
    lines += ["          resources:", f"            limits: {{cpu: {rng.randint(1, 4)}}}"]
    return "\n".join(lines) + "\n"


def json_document(rng: random.Random) -> str:
    if rng.random() < 0.4:
        package = {
            "name": f"@example/{word(rng)}-{word(rng)}",
            "version": version(rng),
            "scripts": {"build": "tsc -p .", "test": "jest", "lint": "eslint src"},
            "dependencies": {word(rng): f"^{version(rng)}" for _ in range(rng.randint(2, 9))},
        }
        return json.dumps(package, indent=2) + "\n"
    records = [
        {
            "id": uuid(rng),
            "name": f"{word(rng)} {word(rng)}",
            "email": f"{word(rng)}.{word(rng)}@example.com",
            "active": rng.random() < 0.8,
            "tags": [word(rng) for _ in range(rng.randint(0, 4))],
            "score": round(rng.random() * 100, 2),
        }
        for _ in range(rng.randint(3, 30))
    ]
    return json.dumps(records, indent=2) + "\n"


def markdown_document(rng: random.Random) -> str:
    lines = [f"# {title(rng)}", "", sentence(rng, 10, 30), ""]
    for _ in range(rng.randint(1, 5)):
        lines += [f"## {title(rng)}", "", sentence(rng, 12, 40), ""]
        lines += [f"- {sentence(rng, 3, 9)}" for _ in range(rng.randint(1, 5))] + [""]
        if rng.random() < 0.5:
            lines += [
                "```sh",
                f"curl -s https://{rng.choice(HOSTS)}/{word(rng)}s | jq .",
                "```",
                "",
            ]
    return "\n".join(lines)


def env_file(rng: random.Random) -> str:
    lines = [f"# {sentence(rng)}"]
    lines += [f"{identifier(rng).upper()}={word(rng)}" for _ in range(rng.randint(3, 12))]
    lines += ["DATABASE_PASSWORD=", f"LOG_LEVEL={rng.choice(('info', 'debug', 'warning'))}"]
    return "\n".join(lines) + "\n"


def ini_file(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(1, 4)):
        lines += [f"[{word(rng)}]"]
        lines += [f"{identifier(rng)} = {word(rng)}" for _ in range(rng.randint(2, 8))]
        lines += [f"timeout = {rng.randint(1, 90)}", ""]
    return "\n".join(lines)


def properties_file(rng: random.Random) -> str:
    lines = [f"{word(rng)}.{word(rng)}.{word(rng)}={word(rng)}" for _ in range(rng.randint(4, 20))]
    return "\n".join(lines) + "\n"


def shell_script(rng: random.Random) -> str:
    lines = ["#!/usr/bin/env bash", "set -euo pipefail", ""]
    for _ in range(rng.randint(2, 8)):
        lines += [f'echo "{sentence(rng, 2, 6)}"', f'{word(rng)}_{word(rng)} --{word(rng)} "$1"']
    return "\n".join(lines) + "\n"


def csv_file(rng: random.Random) -> str:
    lines = ["id,name,amount,currency,created_at"]
    for _ in range(rng.randint(10, 80)):
        amount = round(rng.random() * 1000, 2)
        lines.append(
            f"{uuid(rng)},{word(rng)},{amount},EUR,2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
        )
    return "\n".join(lines) + "\n"


def binary_blob(rng: random.Random) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes(rng.getrandbits(8) for _ in range(rng.randint(200, 4000)))


def _grow(
    rng: random.Random, head: str, piece: Callable[[random.Random], str], tail: str, limit: int
) -> str:
    parts, size = [head], len(head) + len(tail)
    while size < limit:
        text = piece(rng)
        if size + len(text) > limit:
            break
        parts.append(text)
        size += len(text)
    return "".join([*parts, tail])


def large_json(rng: random.Random, limit: int) -> str:
    def record(rng: random.Random) -> str:
        return json.dumps({"id": uuid(rng), "name": word(rng), "n": rng.randint(0, 9999)}) + ",\n"

    return _grow(rng, "[\n", record, '{"end": true}\n]\n', limit)


def large_python(rng: random.Random, limit: int) -> str:
    def entry(rng: random.Random) -> str:
        return f'    "{identifier(rng, 3)}": ({rng.randint(0, 9999)}, "{sentence(rng, 2, 5)}"),\n'

    return _grow(rng, '"""Generated: do not edit."""\n\nTABLE = {\n', entry, "}\n", limit)


def large_log(rng: random.Random, limit: int) -> str:
    def line(rng: random.Random) -> str:
        ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        path = f"/{word(rng)}s/{rng.randint(1, 99999)}"
        when = f"12/Mar/2025:10:{rng.randint(10, 59)}:00 +0000"
        return f'{ip} - - [{when}] "GET {path} HTTP/1.1" 200 {rng.randint(50, 9000)}\n'

    return _grow(rng, "", line, "", limit)


def large_markdown(rng: random.Random, limit: int) -> str:
    return _grow(rng, "# API reference\n\n", markdown_document, "", limit)


def large_yaml(rng: random.Random, limit: int) -> str:
    def operation(rng: random.Random) -> str:
        return (
            f"  /{word(rng)}s/{{id}}/{word(rng)}:\n    get:\n      summary: {sentence(rng, 3, 8)}\n"
            f"      operationId: {camel(rng, 3)}\n      responses:\n        '200':\n"
            f"          description: {sentence(rng, 2, 5)}\n"
        )

    return _grow(
        rng, "openapi: 3.0.3\ninfo:\n  title: API\n  version: 1.0.0\npaths:\n", operation, "", limit
    )
