"""How a detect-secrets finding becomes one of ours: severity, names and wording."""

from audits.model import Category, Finding, Severity, Tool, fingerprint
from audits.secrets.protocol import Detected

GATEHOUSE_TOKEN = "Gatehouse Token"  # noqa: S105 - a secret type's name
CWE_HARD_CODED_CREDENTIALS = 798

_CRITICAL = frozenset({GATEHOUSE_TOKEN, "Private Key"})
# Credentials of a provider or cloud service: usable as they are.
_HIGH = frozenset(
    {
        "AWS Access Key",
        "Artifactory Credentials",
        "Azure Storage Account access key",
        "Basic Auth Credentials",
        "Cloudant Credentials",
        "Discord Bot Token",
        "GitHub Token",
        "GitLab Token",
        "IBM Cloud IAM Key",
        "IBM COS HMAC Credentials",
        "JSON Web Token",
        "Mailchimp Access Key",
        "NPM tokens",
        "OpenAI Token",
        "PyPI Token",
        "SendGrid API Key",
        "Slack Token",
        "SoftLayer Credentials",
        "Square OAuth Secret",
        "Stripe Access Key",
        "Telegram Bot Token",
        "Twilio API Key",
    }
)
# Reported for inventory, not as a credential.
_LOW = frozenset({"Public IP (ipv4)"})
# Everything else (entropy, keywords, unknown plugins) is a guess worth a look: medium.


def severity(secret_type: str) -> Severity:
    if secret_type in _CRITICAL:
        return Severity.CRITICAL
    if secret_type in _HIGH:
        return Severity.HIGH
    if secret_type in _LOW:
        return Severity.LOW
    return Severity.MEDIUM


def to_finding(path: str, detected: Detected, commits: tuple[str, ...] = ()) -> Finding:
    rule = detected.secret_type
    where = f"{path} at line {detected.line}"
    if commits:
        where += f" in {len(commits)} commit{'s' if len(commits) > 1 else ''} of the history"
    return Finding(
        fingerprint=fingerprint(Tool.SECRETS, rule, path, detected.secret_hash),
        tool=Tool.SECRETS,
        rule=rule,
        rule_name=rule,
        category=Category.SECRET,
        severity=severity(rule),
        # Only a Gatehouse token proves itself: its checksum held.
        confidence="verified" if rule == GATEHOUSE_TOKEN else None,
        cwe=CWE_HARD_CODED_CREDENTIALS,
        path=path,
        line=detected.line,
        message=f"{rule} found in {where}.",
        secret_hash=detected.secret_hash,
        preview=detected.preview,
        commits=commits,
    )
