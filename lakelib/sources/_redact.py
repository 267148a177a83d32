"""Credentials out of everything the lake records: URLs shown, and headers by reference.

An API URL often carries its credential (``?api_key=...``, ``?token=...``, a presigned
``X-Amz-Signature``, ``https://user:password@host``). The lake records where records came
from (each raw record's ``_origin``, the ingest state, the run record, logs and error
messages), so every such place goes through :func:`redact_url`.

A header is better than a URL for a credential, and a reference is better than a value:
``env:API_TOKEN`` reads an environment variable, ``secretsmanager:<secret-id>`` (optionally
``#<json-key>``) reads AWS Secrets Manager through :func:`lakelib.aws.client`. The value is
resolved when the first request is made, sent only in that header, and never recorded.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote

from lakelib.errors import IngestError

MASK = "***"

# Parameter names that carry credentials: substrings, and whole names too short to search for.
_SECRET_PARTS = (
    "key",
    "token",
    "secret",
    "passw",
    "pwd",
    "signature",
    "credential",
    "session",
    "jwt",
)
_SECRET_NAMES = frozenset({"sig", "pass"})
# "auth", "x-auth", "authorization", "auth_header", but not "author".
_AUTH = re.compile(r"(?:^|[^a-z])auth(?:$|[^a-z]|oriz)")
_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^/?#@\s:]*)(?::(?P<password>[^/?#@\s]*))?@"
)
_PARAM = re.compile(r"(?P<lead>[?&;#])(?P<name>[^=&;#?\s]+)=(?P<value>[^&;#\s'\"<>]*)")


def is_secret_name(name: str) -> bool:
    """``api_key``, ``X-Amz-Signature``, ``access_token``, ``Authorization``: names of secrets."""
    lowered = unquote(name).lower()
    return (
        lowered in _SECRET_NAMES
        or any(part in lowered for part in _SECRET_PARTS)
        or _AUTH.search(lowered) is not None
    )


def _userinfo(match: re.Match[str]) -> str:
    if match.group("password") is not None:
        return f"{match.group('scheme')}{match.group('user')}:{MASK}@"
    # A user name alone in a URL is usually a token (``https://<token>@host``).
    return f"{match.group('scheme')}{MASK}@"


def _param(match: re.Match[str]) -> str:
    if not is_secret_name(match.group("name")) or not match.group("value"):
        return match.group(0)
    return f"{match.group('lead')}{match.group('name')}={MASK}"


def redact_url(text: str) -> str:
    """``text`` (a URL, or a message with URLs in it) with its credentials masked.

    Passwords in ``user:password@`` (and a bare ``token@``), and the values of query and
    fragment parameters whose names say they are secrets, become ``***``. Everything else
    stays, so the origin remains recognisable.

    Examples
    --------
    >>> redact_url("https://u:pw@api.example.com/v1/sales?api_key=abc123&page=2")
    'https://u:***@api.example.com/v1/sales?api_key=***&page=2'
    >>> redact_url("GET /sales?token=abc failed")
    'GET /sales?token=*** failed'
    """
    return _PARAM.sub(_param, _USERINFO.sub(_userinfo, text))


def url_secrets(url: str) -> list[str]:
    """The secret values a URL carries (to scrub them from text no URL parser sees)."""
    found = [m.group("value") for m in _PARAM.finditer(url) if is_secret_name(m.group("name"))]
    found += [m.group("password") or m.group("user") for m in _USERINFO.finditer(url)]
    return [value for value in found if value]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with URLs redacted and every known secret value replaced by ``***``."""
    text = redact_url(text)
    # Longest first, so a secret that contains another is masked whole.
    for value in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def resolve_header(name: str, value: str) -> str:
    """The value to send for header ``name``: a literal, ``env:NAME`` or ``secretsmanager:ID``.

    ``secretsmanager:<secret-id>#<key>`` picks ``key`` from a secret stored as a JSON object.

    Raises
    ------
    IngestError
        the variable is not set, or the secret cannot be read; the message names the
        reference, never a value.
    """
    if value.startswith("env:"):
        variable = value[len("env:") :]
        resolved = os.environ.get(variable)
        if not resolved:
            raise IngestError(f"header {name}: environment variable {variable} is not set")
        return resolved
    if value.startswith("secretsmanager:"):
        return _secret(name, value[len("secretsmanager:") :])
    return value


def is_reference(value: str) -> bool:
    return value.startswith(("env:", "secretsmanager:"))


def _secret(header: str, reference: str) -> str:
    import json

    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise IngestError(
            f"header {header}: secretsmanager: references need boto3 (the lakelib[aws] extra)"
        ) from None

    from lakelib.aws import client

    secret_id, _, key = reference.partition("#")
    try:
        answer = client("secretsmanager").get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise IngestError(f"header {header}: cannot read secret {secret_id} ({code})") from None
    except BotoCoreError as exc:
        raise IngestError(f"header {header}: cannot read secret {secret_id} ({exc})") from None
    text = answer.get("SecretString")
    if text is None:
        text = bytes(answer.get("SecretBinary", b"")).decode("utf-8", "replace")
    if not key:
        return str(text)
    try:
        value = json.loads(text)[key]
    except (ValueError, TypeError, KeyError):
        raise IngestError(
            f"header {header}: secret {secret_id} is not a JSON object with key {key!r}"
        ) from None
    return str(value)


def resolve_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: resolve_header(name, value) for name, value in headers.items()}


class RedactingFilter(logging.Filter):
    """Masks credentials in URLs that urllib3 logs (retries, requests under ``--debug``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_url(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(arg) if isinstance(arg, str) else _redact_object(arg)
                for arg in record.args
            )
        return True


def _redact_object(arg: object) -> object:
    # urllib3 passes exceptions and Retry objects whose text holds the request URL.
    text = str(arg)
    redacted = redact_url(text)
    return arg if redacted == text else redacted


_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")


def install_log_redaction() -> None:
    """Attach :class:`RedactingFilter` to urllib3's loggers, once."""
    for name in _URLLIB3_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
