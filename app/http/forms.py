"""Typed form models: a controller reads a posted form into a dataclass, and the service takes that
typed value (never the raw form).

Coercion is lenient on purpose: a forged or mistyped number becomes None (the field is noted as
unreadable), a missing checkbox False. What a field must be is declared on the dataclass
(``Annotated[str, MaxLen(200, "Le nom")]``, app/validation.py) and checked once by
``declared_errors(form)``, which the service starts from before its own rules (those that need the
database or several fields). Text is stripped, not cut: a service
refuses an over-long value rather than storing half of it. A ``Password`` field is kept exactly as
typed (a space is a character of a password like any other). Control characters are folded into a
space (a forged line break in a title would split a mail's body); a ``Multiline`` field (a
textarea) keeps its line breaks, as "\\n".
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date
from typing import Any, TypeVar

from litestar import Request

from app.numbers import to_int
from app.services.files import safe_name
from app.services.passwords import Password  # a field kept as typed (re-exported for form models)
from app.services.text import Multiline, fold_controls  # a textarea's field keeps its line breaks
from app.validation import UNREADABLE, IntRange, MaxLen, OneOf, Pattern, Required, declared_errors  # noqa: F401 (re-exported)

T = TypeVar("T")
CSRF_FIELD = "_csrf_token"
FALSE_WORDS = {"", "0", "off", "false", "no"}


def _coerce(kind: Any, values: list[Any], default: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (list, tuple):
        (item,) = typing.get_args(kind)[:1] or (str,)
        out = [_coerce(item, [v], None) for v in values]
        return [v for v in out if v is not None]
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if args[0] is bool:  # a yes/no question: "1" or "0" answers it, anything else does not
            return {"1": True, "0": False}.get(str(values[-1]).strip(), default) if values else default
        return _coerce(args[0], values, default) if values else default
    if kind is bool:
        return bool(values) and str(values[-1]).strip().lower() not in FALSE_WORDS
    if not values:
        return default
    raw = values[-1]
    if not isinstance(raw, str):  # an uploaded file
        return raw
    if kind is Password:
        return str(raw)
    # Control characters folded here, once for every form: line breaks only in a Multiline field.
    text = fold_controls(raw, multiline=kind is Multiline).strip()
    if kind in (str, Multiline):
        return text
    if kind is int:
        return to_int(text)
    if kind is date:
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    return text


def parse_form(model: type[T], form) -> T:
    """``model`` (a dataclass) filled from a form multidict (or a plain dict)."""
    hints = typing.get_type_hints(model)
    values: dict[str, Any] = {}
    unreadable: list[str] = []
    for f in dataclasses.fields(model):
        if f.name == CSRF_FIELD or not f.init:
            continue
        if hasattr(form, "getall"):
            try:
                raw = list(form.getall(f.name))
            except KeyError:
                raw = []
        else:
            raw = [] if f.name not in form else (form[f.name] if isinstance(form[f.name], list) else [form[f.name]])
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        values[f.name] = _coerce(hints[f.name], raw, default)
        if values[f.name] is None and raw and isinstance(raw[-1], str) and raw[-1].strip():
            unreadable.append(f.name)  # a number or a date typed but not one: its declared rule says so
    form = model(**values)
    object.__setattr__(form, UNREADABLE, tuple(unreadable))
    return form


async def read_form(request: Request, model: type[T]) -> T:
    return parse_form(model, await request.form())


def as_values(form: Any) -> dict[str, Any]:
    """A form model as the dict a template's fields show again after an error."""
    return {k: ("" if v is None else v) for k, v in dataclasses.asdict(form).items()}


async def form_data(request: Request) -> dict[str, Any]:
    """The posted form as a plain dict (last value wins), without the CSRF field, its texts without
    control characters (line breaks kept, as a textarea's: these fields are not typed). For the few
    screens whose fields are dynamic; everything else reads a typed model."""
    form = await request.form()
    return {k: fold_controls(v, multiline=True) if isinstance(v, str) else v
            for k, v in form.items() if k != CSRF_FIELD}


async def form_list(request: Request, key: str) -> list[str]:
    form = await request.form()
    try:
        return [fold_controls(str(v)) for v in form.getall(key)]
    except KeyError:
        return []


async def read_upload(request: Request, key: str = "file") -> tuple[str, bytes] | None:
    """The uploaded file of a multipart form as (its name, its bytes), or None when none was chosen.
    The name is the one shown and stored: its folders, control and bidirectional characters gone."""
    from litestar.datastructures import UploadFile

    upload = (await request.form()).get(key)
    if isinstance(upload, UploadFile) and upload.filename:
        return safe_name(upload.filename), await upload.read()
    return None


async def read_pdf(request: Request, max_bytes: int, missing: str) -> tuple[bytes | None, str | None]:
    """The PDF posted as ``file`` (a public verification's « Comparer le fichier »): (its bytes, None),
    or (None, the French reason it is refused — ``missing`` when no file was chosen)."""
    from litestar.datastructures import UploadFile

    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None, missing
    content = await upload.read(max_bytes + 1)
    if len(content) > max_bytes:
        return None, f"Fichier trop volumineux : {max_bytes // 1_048_576} Mo au maximum."
    if not content.startswith(b"%PDF"):
        return None, "Ce fichier n'est pas un PDF."
    return content, None
