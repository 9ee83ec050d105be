"""Secrets out of what operators see: a job's arguments, its result, its traceback (SPEC G2).

What counts as a secret here: passwords, tokens (a progress token is the key to an export's file),
signed links, mail bodies. The rules work on values whose names are lost (a job's positional
arguments, the text of a traceback), so they look at the value itself too.
"""

from __future__ import annotations

import re

MASK = "[masqué]"

# A key whose value is secret whatever it looks like.
SECRET_KEY = re.compile(r"pass(word|wd)?|pwd|secret|token|signature|sig|auth|cookie|csrf|api_?key|credential|"
                        r"body|link|hash|otp|nonce", re.I)
# name=value / name: value / "name": "value" in free text (a traceback, an error message).
SECRET_ASSIGNMENT = re.compile(
    r"""(?P<name>\b[\w-]*(?:pass(?:word|wd)?|pwd|secret|token|signature|api_?key|authorization|cookie|nonce)[\w-]*)"""
    r"""(?P<sep>['"]?\s*[=:]\s*)(?P<quote>['"]?)(?P<value>(?:Bearer\s+)?[^\s'",;&)}\]]+)""", re.I)
# A URL's query string and fragment may carry a signed link's token.
URL = re.compile(r"\bhttps?://[^\s'\"<>]+", re.I)
# What a generated token looks like: long, no spaces, letters and digits mixed (token_urlsafe,
# itsdangerous's signed values with their dots, hex digests).
TOKENISH = re.compile(r"(?<![\w.-])(?=[\w.-]*\d)(?=[\w.-]*[A-Za-z])[\w-]{8,}(?:\.[\w-]{4,}){0,3}(?![\w.-])")
LONG_TOKEN = 20
# Free text longer than this in an argument is a message body, not an id: only its size is shown.
LONG_TEXT = 500


def _looks_like_token(word: str) -> bool:
    bare = word.replace(".", "").replace("-", "").replace("_", "")
    return len(word) >= LONG_TOKEN and any(c.isdigit() for c in bare) and any(c.isalpha() for c in bare) \
        and not word.isdigit()


def _redact_url(url: str) -> str:
    base, sep, _ = url.partition("?")
    base, hash_sep, _ = base.partition("#")
    parts = base.split("/")
    parts = [MASK if i > 2 and _looks_like_token(p) else p for i, p in enumerate(parts)]
    return "/".join(parts) + (f"?{MASK}" if sep else "") + (f"#{MASK}" if hash_sep else "")


def redact_text(text: str) -> str:
    text = URL.sub(lambda m: _redact_url(m.group(0)), text)
    text = SECRET_ASSIGNMENT.sub(lambda m: f"{m.group('name')}{m.group('sep')}{m.group('quote')}{MASK}", text)
    return TOKENISH.sub(lambda m: MASK if _looks_like_token(m.group(0)) else m.group(0), text)


def redact(value, key: str | None = None):
    """A copy of ``value`` (str, number, list, tuple, dict — nested) safe to show to an operator."""
    if key is not None and SECRET_KEY.search(key) and value not in (None, "", [], {}):
        return MASK
    if isinstance(value, str):
        if "\n" in value.strip() and len(value) > LONG_TEXT and "Traceback" not in value:
            return f"[texte masqué, {len(value)} caractères]"
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return f"[{len(value)} octets]"
    return value


def redact_args(function, args: list) -> dict:
    """A job's positional arguments by their names (the job function's parameters after ctx), each
    redacted — a parameter named like a secret (``token``) is masked whatever its value."""
    import inspect

    names = [p for p in inspect.signature(function).parameters][1:]
    named = {}
    for i, value in enumerate(args):
        name = names[i] if i < len(names) else f"arg{i + 1}"
        named[name] = redact(value, name)
    return named
