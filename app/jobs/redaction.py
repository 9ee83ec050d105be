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


# The stricter rules (written with the operations dashboard, one set with the above):
# ("session" is not one: a training session's id is everywhere in this domain's arguments.)
_SECRET_WORDS = (r"pass(?:word|wd)?|pwd|mot[ _-]?de[ _-]?passe|secret|token|jeton|api[_-]?key|authori[sz]ation|"
                 r"cookie|csrf\w*|signature|sig|nonce|credentials?|body(?:_text|_html)?|html|corps")
_SECRET_NAME = re.compile(rf"^(?:\w*_)?(?:{_SECRET_WORDS})$", re.I)
# key=value, key: value, "key": "value", key='value' in a traceback or a repr
_KEY_VALUE = re.compile(
    rf"""(?P<key>["']?\b(?:\w*_)?(?:{_SECRET_WORDS})\b["']?\s*(?:=|:)\s*)"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;)}\]]+)""",
    re.I,
)
_BEARER = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.I)
# A link (absolute or a path): its query string goes.
_PATH_URL = re.compile(r"(?P<base>(?:https?://[^\s/'\"<>]+)?/[^\s?'\"<>]*)(?P<query>\?[^\s'\"<>]*)?")
# A signed token (itsdangerous: payload.timestamp.signature) or a random one (token_urlsafe, hex).
_TOKEN = re.compile(
    r"\b(?=[A-Za-z0-9_.-]*[A-Z])(?=[A-Za-z0-9_.-]*[a-z])(?=[A-Za-z0-9_.-]*\d)[A-Za-z0-9_-]{16,}"
    r"(?:\.[A-Za-z0-9_-]{4,}){0,3}\b"
    # itsdangerous: payload.timestamp(6).signature(27, or 43 with SHA-256), whatever the payload's size
    r"|\b[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{6}\.(?:[A-Za-z0-9_-]{43}|[A-Za-z0-9_-]{27})\b"
    # payload.timestamp.signature — with a digit somewhere, or "aiosmtplib.errors.SMTPRecipientsRefused" would go
    r"|\b(?=[A-Za-z0-9_.-]*\d)[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{16,}\b"
    r"|\b[0-9a-f]{32,}\b"
)
# An argument that is one long word of mixed case or digits is an id of nobody's reading: a token
# (token_urlsafe has no digit one time in forty, which the free-text rules need).
_ARG_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,}")


def redact_text(text: str) -> str:
    text = URL.sub(lambda m: _redact_url(m.group(0)), text)
    text = SECRET_ASSIGNMENT.sub(lambda m: f"{m.group('name')}{m.group('sep')}{m.group('quote')}{MASK}", text)
    text = TOKENISH.sub(lambda m: MASK if _looks_like_token(m.group(0)) else m.group(0), text)
    text = _KEY_VALUE.sub(lambda m: m.group(0) if m["value"].startswith(MASK[:-1]) else m["key"] + MASK, text)
    text = _BEARER.sub(lambda m: f"{m[1]} {MASK}", text)
    text = _PATH_URL.sub(lambda m: m["base"] + ("?" + MASK if m["query"] else ""), text)
    return _TOKEN.sub(MASK, text)


def redact(value, key: str | None = None, _nested: bool = False):
    """A copy of ``value`` (str, number, list, tuple, dict — nested) safe to show to an operator."""
    if key is not None and (SECRET_KEY.search(key) or _SECRET_NAME.match(key)) and value not in (None, "", [], {}):
        return MASK
    if isinstance(value, str):
        if "\n" in value.strip() and len(value) > LONG_TEXT and "Traceback" not in value:
            return f"[texte masqué, {len(value)} caractères]"
        if _nested and _ARG_TOKEN.fullmatch(value) and not value.islower():
            return MASK
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k), True) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, None, True) for v in value]
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
        named[name] = redact(value, name, True)
    return named
