"""Texts written by users with {champs} in them (the certificate text of a session or of a course
template): the one way to check them when saved and to fill them in.

Only a bare {nom} of an allowed set is a field: no format spec ({prenom:>1000000} would pad the
first name to a million characters), no conversion ({nom!r}), no attribute or index access
({nom.__class__}, {nom[0]}). `problem` refuses the others with a French message naming the field as
written. `fill` never honours any of them either, so a text stored before this check (an old
database) is filled safely too: each field is replaced by its value alone, whatever follows its
name; and the result is capped. Nothing here calls str.format or format_map on a user's text.
"""

from __future__ import annotations

import string

FILLED_MAX = 20_000  # characters of a filled text: a 5 000-character text with its values fits well


def _fields(text: str):
    """(literal, field as written, its name, spec, conversion) of the text; ValueError on a stray brace."""
    for literal, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            yield literal, None, None, None, None
            continue
        written = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        yield literal, written, name, spec, conversion


def problem(text: str, allowed) -> str | None:
    """A French message for the first unusable field of this text, or None when it can be filled in:
    a stray brace, a field with a format, conversion, attribute or index, an unknown name."""
    try:
        fields = [(written, name, spec, conversion) for _, written, name, spec, conversion in _fields(text or "")
                  if written is not None]
    except ValueError:
        return "Accolade non fermée ou isolée : écrivez les champs entre accolades, ex. {nom}."
    for written, name, spec, conversion in fields:
        if spec or conversion or not name.isidentifier():
            base = name.split(".")[0].split("[")[0].strip()
            bare = "{" + base + "}" if base in allowed else "le champ seul, ex. {nom}"
            return f"Le champ {written} n'est pas permis : écrivez {bare} sans format."
    unknown = sorted({name for _, name, _, _ in fields if name not in allowed})
    if unknown:
        known = ", ".join("{" + k + "}" for k in allowed)
        return f"Champ inconnu : {', '.join('{' + u + '}' for u in unknown)}. Champs possibles : {known}."
    return None


def fill(text: str, values: dict, limit: int = FILLED_MAX) -> str:
    """The text with each field replaced by its value (str), by substitution only: a format spec,
    conversion, attribute or index after a name is ignored (the name's value alone), an unknown name
    gives nothing; a stray brace is kept as written. At most `limit` characters."""
    parts: list[str] = []
    size = 0
    try:
        pieces = list(_fields(text or ""))
    except ValueError:
        pieces = [(text or "", None, None, None, None)]
    for literal, written, name, _, _ in pieces:
        parts.append(literal)
        size += len(literal)
        if written is not None:
            base = name.split(".")[0].split("[")[0].strip()
            value = str(values.get(base, "") or "")
            parts.append(value)
            size += len(value)
        if size > limit:
            break
    return "".join(parts)[:limit]
