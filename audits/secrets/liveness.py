"""Asking the control plane whether leaked Gatehouse tokens still work, and revoking them.

The contract: `POST {server}/v1/tokens/leak-check` with `{"tokens": [...], "revoke": bool}`
(at most 100 tokens per request) answers `{"results": [{"token_sha256", "status",
"accessor", "revoked_now"}]}` in request order; errors are 4xx/5xx with `{"error", "detail",
"request_id"}`.

Findings hold no raw secret, so each token is found again in its file (or, for a history
finding, in the commits that held it) by matching detect-secrets' SHA-1 of it. A raw token then
lives only in this process's memory and in the request body: never in a log line, a file or an
exception message (server messages are scrubbed of anything shaped like a token).
"""

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from pathlib import Path

import httpx

from audits.model import Finding
from audits.secrets import git
from audits.secrets.severity import GATEHOUSE_TOKEN
from controlplane.tokens.format import TOKEN_PATTERN, is_well_formed

LEAK_CHECK_PATH = "/v1/tokens/leak-check"
BATCH_SIZE = 100
STATUSES = frozenset({"live", "revoked", "suspended", "expired", "unknown"})
TIMEOUT_SECONDS = 30.0


class LeakCheckError(RuntimeError):
    """The control plane refused or could not answer; the message never holds a token."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(scrub(message))
        self.status_code = status_code
        self.code = code
        self.request_id = request_id


def scrub(text: str) -> str:
    return TOKEN_PATTERN.sub("gth_[redacted]", text)


def _tokens_in(text: str) -> dict[str, str]:
    """detect-secrets' hash of each well-formed token in `text` -> the token."""
    return {
        hashlib.sha1(token.encode(), usedforsecurity=False).hexdigest(): token
        for token in TOKEN_PATTERN.findall(text)
        if is_well_formed(token)
    }


def _texts(root: Path, finding: Finding) -> Iterator[str]:
    """Where the finding's token can be read again: the file, then the commits that held it."""
    with suppress(OSError):
        yield (root / finding.path).read_text(encoding="utf-8", errors="replace")
    for commit in finding.commits:
        try:
            yield git.git(root, "cat-file", "blob", f"{commit}:./{finding.path}").decode(
                errors="replace"
            )
        except git.GitError:
            continue


def _recover(root: Path, findings: Iterable[Finding]) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for finding in findings:
        if finding.secret_hash is None or finding.secret_hash in tokens:
            continue
        for text in _texts(root, finding):
            tokens.update(_tokens_in(text))
            if finding.secret_hash in tokens:
                break
    return tokens


def _error(response: httpx.Response) -> LeakCheckError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    code = str(body.get("error") or "http_error")
    detail = str(body.get("detail") or response.reason_phrase)
    request_id = body.get("request_id")
    suffix = f" (request {request_id})" if request_id else ""
    return LeakCheckError(
        f"the leak check was refused: {response.status_code} {code}: {detail}{suffix}",
        status_code=response.status_code,
        code=code,
        request_id=str(request_id) if request_id else None,
    )


def _statuses(answer: object, batch: Sequence[str]) -> dict[str, str]:
    """token sha256 -> status, after checking the answer matches the request, in order."""
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list) or len(results) != len(batch):
        raise LeakCheckError("the leak check answered with the wrong number of results")
    statuses = {}
    for token, result in zip(batch, results, strict=True):
        digest = hashlib.sha256(token.encode()).hexdigest()
        if not isinstance(result, dict) or result.get("token_sha256") != digest:
            raise LeakCheckError("the leak check answered for tokens it was not asked about")
        status = result.get("status")
        if status not in STATUSES:
            raise LeakCheckError(f"the leak check answered an unknown status {status!r}")
        statuses[digest] = "revoked" if result.get("revoked_now") is True else str(status)
    return statuses


def _check(server: str, credential: str, tokens: Sequence[str], revoke: bool) -> dict[str, str]:
    url = f"{server.rstrip('/')}{LEAK_CHECK_PATH}"
    statuses: dict[str, str] = {}
    headers = {"Authorization": f"Bearer {credential}"}
    with httpx.Client(timeout=TIMEOUT_SECONDS) as client:
        for start in range(0, len(tokens), BATCH_SIZE):
            batch = tokens[start : start + BATCH_SIZE]
            try:
                response = client.post(
                    url, json={"tokens": list(batch), "revoke": revoke}, headers=headers
                )
            except httpx.HTTPError as error:
                raise LeakCheckError(f"cannot reach {url}: {error}") from None
            if response.status_code != 200:
                raise _error(response)
            try:
                answer = response.json()
            except ValueError:
                raise LeakCheckError("the leak check did not answer JSON") from None
            statuses.update(_statuses(answer, batch))
    return statuses


def verify_gatehouse_tokens(
    root: Path, findings: list[Finding], *, server: str, credential: str, revoke: bool
) -> list[Finding]:
    """The findings, with `liveness` set on each Gatehouse token the server answered for; with
    `revoke`, live tokens are revoked and reported as revoked."""
    leaked = [f for f in findings if f.rule == GATEHOUSE_TOKEN]
    tokens = _recover(root.resolve(), leaked)
    if not tokens:
        return list(findings)
    wanted = sorted({f.secret_hash for f in leaked if f.secret_hash in tokens})
    statuses = _check(server, credential, [tokens[h] for h in wanted], revoke)
    liveness = {h: statuses[hashlib.sha256(tokens[h].encode()).hexdigest()] for h in wanted}
    return [
        f.model_copy(update={"liveness": liveness[f.secret_hash]})
        if f.rule == GATEHOUSE_TOKEN and f.secret_hash in liveness
        else f
        for f in findings
    ]
