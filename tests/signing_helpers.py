"""Shared builders of the émargement tests (issue 22): a session with learners who can log in, a
trainer, the app's clock set to a moment of the slot, signature images."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw

from app.dates import now, today
from app.services.enrolments import add_sources
from app.services.passwords import hash_password
from app.tables.accounts import User
from app.tables.catalogue import SessionSlot
from app.tables.learning import Enrolment, SourceKind
from app.tables.org import Establishment
from tests import factories

PARIS = ZoneInfo("Europe/Paris")
PASSWORD = "Demo-2026!"
_hash = None


def password_hash() -> str:
    global _hash
    if _hash is None:
        _hash = hash_password(PASSWORD)
    return _hash


def png(width: int = 300, height: int = 100) -> bytes:
    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).line([(10, 80), (120, 20), (280, 70)], fill="black", width=3)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def data_url(raw: bytes | None = None) -> str:
    return "data:image/png;base64," + base64.b64encode(raw if raw is not None else png()).decode()


@dataclass
class Built:
    session: int
    slots: list[int]  # ids, in order
    day: date
    enrolments: list[int]
    usernames: list[str]
    trainer: int
    trainer_username: str


async def built(learners: int = 3, establishment: str = "ALP001", slots: int = 2, days_ahead: int = 30) -> Built:
    """A session of ``establishment`` with ``slots`` slots (09:00–12:30, 13:30–17:00 on day D, D+1…),
    ``learners`` learners who can log in (password PASSWORD) and one trainer of every slot (idem)."""
    est = (await Establishment.select(Establishment.id).where(Establishment.code == establishment).first())["id"]
    start = today() + timedelta(days=days_ahead)
    session = await factories.session_with_learners(est, learners_count=0, slots=slots, start=start)
    ids = await factories.learners(est, learners, password_hash=password_hash())
    await add_sources(session.id, ids, SourceKind.manual)
    by_user = {r["user"]: r["id"] for r in await Enrolment.select(Enrolment.id, Enrolment.user).where(
        Enrolment.session == session.id)}
    users = {r["id"]: r["username"] for r in await User.select(User.id, User.username).where(User.id.is_in(ids))}
    slot_ids = [r["id"] for r in await SessionSlot.select(SessionSlot.id).where(SessionSlot.session == session.id)
                .order_by(SessionSlot.day).order_by(SessionSlot.starts)]
    trainer = await factories.trainer(session.id, password_hash=password_hash())
    trainer_username = (await User.select(User.username).where(User.id == trainer).first())["username"]
    return Built(session.id, slot_ids, start, [by_user[u] for u in ids], [users[u] for u in ids], trainer,
                 trainer_username)


def set_clock(clock, day: date, hour: int, minute: int = 0, second: int = 0) -> None:
    """The app's clock at ``day`` ``hour``:``minute``:``second``, Paris wall clock."""
    target = datetime.combine(day, time(hour), tzinfo=PARIS) + timedelta(minutes=minute, seconds=second)
    clock.advance((target - now()).total_seconds())
