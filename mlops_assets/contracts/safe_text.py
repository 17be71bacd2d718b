"""Text that may leave the process (logs, alerts, events, HTTP answers, the registry): secrets
redacted, control characters escaped.

`redact` is the one function every stored, logged, alerted or published error text goes
through; `printable` turns what a request or a message brought into one line a terminal shows
as it is.
"""

import re
from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator

REDACTED = "***"

# scheme://user:password@host or scheme://token@host: the userinfo before the host.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s'\"]+)@")
# password=..., token=..., secret=... in a query string, a DSN or a message, up to a separator.
_SECRET_PARAMETER = re.compile(
    r"(?P<key>\b[\w.-]*(?:password|passwd|pwd|token|secret|api[_-]?key|access[_-]?key|"
    r"signature|credential)[\w.-]*)(?P<sep>\s*[=:]\s*)(?P<value>[^\s&;,'\"}]+)",
    re.IGNORECASE,
)


def _userinfo(match: re.Match) -> str:
    user, colon, _ = match["userinfo"].partition(":")
    # A bare userinfo (https://TOKEN@host) is as secret as a password.
    shown = f"{user}:{REDACTED}" if colon else REDACTED
    return f"{match['scheme']}{shown}@"


# Shorter known secrets would mask ordinary words and numbers.
MIN_SECRET_CHARS = 8


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Returns `text` with URL userinfo passwords, `password=`/`token=`-like values and each of
    the known `secrets` (at least 8 characters) replaced by `***`."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= MIN_SECRET_CHARS:
            text = text.replace(secret, REDACTED)
    text = _USERINFO.sub(_userinfo, text)
    return _SECRET_PARAMETER.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)


def printable(text: str) -> str:
    """Returns `text` with every character a terminal would act on (newline, escape, other
    control and format characters) written as its Python escape, so the text stays one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def error_kind(error: BaseException) -> str:
    """The error's class, which says what went wrong without its (possibly secret) text."""
    return type(error).__name__


# A free-text field that reaches logs: kept, but shown on one line.
PrintableText = Annotated[str, AfterValidator(printable)]
