"""Certificates: the training provider (« dispensateur de l'action », issue 22) the certificat de
réalisation names — its name, its numéro de déclaration d'activité (NDA), address, signatory and a
stamp/signature image — kept in PlatformSetting, set by an administrator (/administration/organisme).

Read once per issue batch (`load`, one query). Until the name and the NDA are filled in, no
certificat de réalisation is issued (`ready`).

The stamp is stored by its content: the setting ``provider_stamp`` holds its SHA-256, the setting
``provider_stamp:<first 48 hex digits of the sha>`` its bytes (``image/jpeg;base64,…``: `fitted`). A certificate's snapshot keeps the SHA-256
of the stamp it was issued with, so re-rendering it gives the same bytes even after the administrator
changes the stamp (the old one stays stored; a stamp is ≤ 1 MB and changes rarely). Not a
``stored_file``: those nothing refers to are removed by the cleanup cron after a day.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import io
import re
from dataclasses import dataclass
from typing import Annotated

from app import db
from app.services.errors import ValidationFailed
from app.services.outbox import set_setting
from app.services.text import Multiline
from app.tables.outbox import PlatformSetting
from app.validation import MaxLen, Pattern, Required, declared_errors

FIELDS = ("name", "nda", "address", "signatory", "signatory_title")
KEYS = {field: f"provider_{field}" for field in FIELDS}
STAMP_KEY = "provider_stamp"


def _stamp_key(digest: str) -> str:
    return f"{STAMP_KEY}:{digest[:48]}"  # a setting's key is at most 64 characters; the full digest is checked
STAMP_MAX_BYTES = 1024 * 1024
STAMP_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
MISSING = ("Renseignez l'organisme de formation (nom et numéro de déclaration d'activité) : tant qu'ils manquent, "
           "aucun certificat de réalisation n'est délivré.")


@dataclass
class ProviderForm:
    name: Annotated[str, Required("Indiquez le nom de l'organisme de formation."),
                    MaxLen(200, "Le nom de l'organisme")] = ""
    nda: Annotated[str, Required("Indiquez le numéro de déclaration d'activité."),
                   Pattern(r"\s*(?:\d\s*){11}", "Le numéro de déclaration d'activité compte 11 chiffres "
                                                 "(par exemple 11 75 12345 75).")] = ""
    address: Annotated[Multiline, MaxLen(500, "L'adresse")] = Multiline("")
    signatory: Annotated[str, MaxLen(120, "Le nom du signataire")] = ""
    signatory_title: Annotated[str, MaxLen(120, "La qualité du signataire")] = ""
    remove_stamp: bool = False


def nda_display(nda: str) -> str:
    """11 75 12345 75: the NDA as it is usually printed."""
    return f"{nda[:2]} {nda[2:4]} {nda[4:9]} {nda[9:]}" if len(nda) == 11 else nda


def ready(provider: dict) -> bool:
    return bool(provider.get("name") and provider.get("nda"))


async def load() -> dict:
    """The provider's settings in one query: name, nda (11 digits), address, signatory,
    signatory_title, stamp (SHA-256 of the current stamp, or "")."""
    keys = {v: k for k, v in KEYS.items()} | {STAMP_KEY: "stamp"}
    rows = await PlatformSetting.select(PlatformSetting.key, PlatformSetting.value).where(
        PlatformSetting.key.is_in(list(keys)))
    provider = {field: "" for field in (*FIELDS, "stamp")}
    provider.update({keys[r["key"]]: r["value"] for r in rows})
    return provider


def city_of(address: str) -> str:
    """« Lyon » from « 3 rue X\\n69002 Lyon » (the last line's words after a postal code), else ""."""
    for line in reversed([li.strip() for li in (address or "").splitlines() if li.strip()]):
        match = re.search(r"\b\d{5}\s+(.+)$", line)
        if match:
            return re.sub(r"\s+cedex(\s+\d+)?$", "", match[1].strip(), flags=re.I)
    return ""


STAMP_MAX_SIDE = 6000  # pixels: width × height is read from the header, before anything is decoded


def _stamp_error(content: bytes) -> str | None:
    """A French message when the upload is not a stamp we can use: too heavy, not PNG/JPEG, too many
    pixels (a 1 MB PNG can declare 100 million pixels: hundreds of MB once decoded), unreadable."""
    if len(content) > STAMP_MAX_BYTES:
        return "L'image du cachet dépasse 1 Mo : réduisez-la."
    if not any(content.startswith(magic) for magic in STAMP_TYPES.values()):
        return "Le cachet doit être une image PNG ou JPEG."
    try:
        from PIL import Image  # noqa: PLC0415 - a third-party import, only to check an upload

        with Image.open(io.BytesIO(content)) as image:  # reads the header only
            width, height = image.size
            if width > STAMP_MAX_SIDE or height > STAMP_MAX_SIDE:
                return (f"L'image du cachet est trop grande ({width} × {height} pixels) : réduisez-la à "
                        f"{STAMP_MAX_SIDE} × {STAMP_MAX_SIDE} pixels au plus.")
            image.verify()
    except Image.DecompressionBombError:  # Pillow's own bound (far beyond ours), raised by open()
        return f"L'image du cachet est trop grande : réduisez-la à {STAMP_MAX_SIDE} × {STAMP_MAX_SIDE} pixels au plus."
    except Exception:  # noqa: BLE001 - any decoding error: the same French message
        return "Cette image est illisible : enregistrez-la de nouveau en PNG ou JPEG."
    return None


def _prepared(content: bytes) -> tuple[bytes, str | None]:
    """(the stamp as stored, None) or (b"", the French reason it is refused). CPU-bound: run off the
    event loop."""
    if problem := _stamp_error(content):
        return b"", problem
    try:
        return fitted(content), None
    except Exception:  # noqa: BLE001 - verify() passed but decoding failed (a truncated body)
        return b"", "Cette image est illisible : enregistrez-la de nouveau en PNG ou JPEG."


def _content_type(content: bytes) -> str:
    return next(t for t, magic in STAMP_TYPES.items() if content.startswith(magic))


STAMP_MAX_PIXELS = (440, 160)  # the printed stamp is at most 55 × 20 mm: 200 dpi
STAMP_JPEG_QUALITY = 92  # with no chroma subsampling: the ink's edges within a few levels of the scan


def fitted(content: bytes) -> bytes:
    """The stamp as stored, made cheap for every certificat's render: scaled down to STAMP_MAX_PIXELS, a
    transparent one laid on white (the page is white: the same print), and kept as a JPEG — WeasyPrint
    embeds a JPEG's bytes as they are, where a PNG is decoded and compressed again in every PDF (a
    tenth of a certificat de réalisation's render). A JPEG within bounds is kept as uploaded."""
    from PIL import Image  # noqa: PLC0415 - a third-party import, only for an upload

    with Image.open(io.BytesIO(content)) as image:
        small = image.width <= STAMP_MAX_PIXELS[0] and image.height <= STAMP_MAX_PIXELS[1]
        if _content_type(content) == "image/jpeg" and small:
            return content
        image.draft("RGB", STAMP_MAX_PIXELS)  # a large JPEG decoded at a fraction of its size
        clear = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA" if clear else "RGB")
        image.thumbnail(STAMP_MAX_PIXELS, Image.LANCZOS)  # scaled down before anything else is made of it
        if clear:
            image = image.convert("RGBA")
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(image, mask=image.getchannel("A"))
        else:
            flat = image
        out = io.BytesIO()
        flat.save(out, format="JPEG", quality=STAMP_JPEG_QUALITY, subsampling=0, optimize=True)
        return out.getvalue()


async def save(form: ProviderForm, stamp: bytes | None) -> None:
    """Validate (declared rules, then the image), then write every setting in one transaction."""
    errors = declared_errors(form)
    if stamp is not None:  # checked and fitted to its printed size off the event loop, before the transaction
        stamp, problem = await asyncio.to_thread(_prepared, stamp)
        if problem:
            errors["stamp"] = problem
    if errors:
        raise ValidationFailed(errors)
    values = {"name": " ".join(form.name.split()), "nda": re.sub(r"\s", "", form.nda),
              "address": "\n".join(li.strip() for li in str(form.address).splitlines() if li.strip()),
              "signatory": " ".join(form.signatory.split()), "signatory_title": " ".join(form.signatory_title.split())}
    async with db.transaction():
        for field, value in values.items():
            await set_setting(KEYS[field], value)
        if stamp is not None:
            digest = hashlib.sha256(stamp).hexdigest()
            if not await PlatformSetting.exists().where(PlatformSetting.key == _stamp_key(digest)):
                await set_setting(_stamp_key(digest), f"{_content_type(stamp)};base64,{base64.b64encode(stamp).decode()}")
            await set_setting(STAMP_KEY, digest)
        elif form.remove_stamp:
            await set_setting(STAMP_KEY, "")


# Stamps already read by this process, by SHA-256 (a stamp never changes under its digest).
_STAMPS: dict[str, str] = {}


async def stamp_uris(digests: set[str]) -> dict[str, str]:
    """The data: URIs of these stamps (one query for those not read yet); a stamp whose bytes do not
    match its digest is left out rather than printed."""
    wanted = {d for d in digests if d} - set(_STAMPS)
    if wanted:
        rows = await PlatformSetting.select(PlatformSetting.key, PlatformSetting.value).where(
            PlatformSetting.key.is_in([_stamp_key(d) for d in sorted(wanted)]))
        for row in rows:
            try:
                content = base64.b64decode(row["value"].split(",", 1)[1], validate=True)
            except (IndexError, binascii.Error):
                continue
            digest = hashlib.sha256(content).hexdigest()
            if digest in wanted:
                _STAMPS[digest] = "data:" + row["value"]
    return {d: _STAMPS[d] for d in digests if d in _STAMPS}


async def stamp_uri(digest: str) -> str:
    return (await stamp_uris({digest})).get(digest, "") if digest else ""
