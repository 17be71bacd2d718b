"""Secrets out of text that is stored, logged or alerted: URL passwords, `password=` parts and
known secret values."""

import re
from collections.abc import Iterable

MASK = "***"
# scheme://user:password@host -> scheme://user:***@host
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(?=@)")
# password=…, token: …, secret=… up to a space, quote, comma or ampersand.
_KEY_VALUE = re.compile(
    r"(?P<head>\b[\w-]*(?:password|passwd|secret|token|api[_-]?key)[\w-]*\s*[=:]\s*)"
    r"[^\s'\",&;]+",
    re.IGNORECASE,
)
# Shorter values would mask ordinary words and numbers.
MIN_SECRET_CHARS = 8


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with URL passwords, `password=`-like values and each of `secrets` masked."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= MIN_SECRET_CHARS:
            text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    return _KEY_VALUE.sub(lambda m: m["head"] + MASK, text)
