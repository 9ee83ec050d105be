"""Certificates: the snapshot a certificate states, and its PDF (same bytes every time)."""

from __future__ import annotations

import base64
import io
import json
from datetime import datetime

from app.dates import day_fr
from app.pdf import bounded
from app.pdf.render import TAGGED, render_pdf_sync
from app.services import slots
from app.services.session_names import name_for_documents
from app.services.slots import hours_text
from app.settings import get_settings
from app.tables.catalogue import SessionSlot
from app.tables.learning import Enrolment
from app.services.certificates.common import (
    DEFAULT_TEXT, LAYOUT, LAYOUTS, NATURE, PLACEHOLDERS, REALISATION_LAYOUTS, VERIFY_PATH, display_code, fill,
)
from app.services.certificates.evaluation import quiz_results
from app.services.assessments import certificate_results
from app.services.certificates.provider import stamp_uris


# -- snapshots and rendering ---------------------------------------------------------------------
# The learner's civility (M. / Mme), for documents: only known from registration requests — this
# session's, else the latest. Needs the aliases u (app_user) and s (training_session).
CIVILITY_SQL = (
    "COALESCE((SELECT r.civility FROM registration_request r WHERE r.email = u.email AND r.session = s.id "
    "AND r.civility <> '' ORDER BY r.id DESC LIMIT 1), (SELECT r.civility FROM registration_request r "
    "WHERE r.email = u.email AND r.civility <> '' ORDER BY r.id DESC LIMIT 1), '')"
)
_ENROLMENT_FACTS = (
    "SELECT e.id, e.completed_at, e.attended_minutes, u.first_name, u.last_name, s.id AS session_id, s.place, "
    "s.full_name AS session_name, s.start_date, "
    "s.end_date, s.code AS session_code, s.certificate_text, s.certificate_version, es.name AS establishment_name, "
    "COALESCE(t.duration, '') AS duration, COALESCE(t.objectives, '') AS objectives, "
    # The employer the certificat de réalisation names: the learner's establishment, else (an external
    # person) their organisation.
    "COALESCE(ue.name, o.name, '') AS employer, " + CIVILITY_SQL + " AS civility "
    "FROM enrolment e JOIN app_user u ON u.id = e.\"user\" JOIN training_session s ON s.id = e.session "
    "JOIN establishment es ON es.id = s.establishment LEFT JOIN course_template t ON t.id = s.template "
    "LEFT JOIN establishment ue ON ue.id = u.establishment LEFT JOIN organisation o ON o.id = u.organisation "
    "WHERE e.id IN ({ids})"
)


async def _facts(enrolment_ids: list[int]) -> dict[int, dict]:
    if not enrolment_ids:
        return {}

    ids = ", ".join(str(int(i)) for i in sorted(set(enrolment_ids)))
    rows = await Enrolment.raw(_ENROLMENT_FACTS.format(ids=ids))
    slot_rows = await SessionSlot.select(SessionSlot.session, SessionSlot.day, SessionSlot.starts, SessionSlot.ends).where(
        SessionSlot.session.is_in(sorted({r["session_id"] for r in rows}) or [0]))
    by_session: dict[int, list] = {}
    for row in slot_rows:
        by_session.setdefault(row["session"], []).append(slots.Slot(row["day"], row["starts"], row["ends"]))
    for row in rows:
        session_slots = sorted(by_session.get(row["session_id"], []))
        row["hours"] = slots.summary(session_slots)
        row["planned_minutes"] = sum(s.minutes for s in session_slots) if session_slots else None
        row["first_day"] = session_slots[0].day if session_slots else None
        row["last_day"] = session_slots[-1].day if session_slots else None
    by_id = {r["id"]: r for r in rows}
    for enrolment_id, results in (await quiz_results(by_id)).items():
        by_id[enrolment_id].update(results)  # "evaluations", "positionnements"
    for enrolment_id, results in (await certificate_results(by_id)).items():  # issue 23: per objective
        by_id[enrolment_id]["acquis"] = results
    return by_id


def _snapshot(facts: dict, code: str, version: int, issued_at: datetime) -> dict:
    # Layout 3: one duration. With slots, the planned hours are theirs (the template's estimate would
    # contradict them) and the hours attended are stated beside them.
    planned = facts.get("planned_minutes")
    values = {
        "civilite": facts["civility"] or "", "prenom": facts["first_name"], "nom": facts["last_name"],
        "session": name_for_documents(facts["session_name"], facts["start_date"], facts["end_date"]),
        "date_debut": day_fr(facts["start_date"]),
        "date_fin": day_fr(facts["end_date"]), "duree": hours_text(planned) if planned else facts["duration"],
        "etablissement": facts["establishment_name"], "date_delivrance": day_fr(issued_at),
        "code": display_code(code),
    }
    return {
        **values, "text": fill(facts["certificate_text"], values), "session_code": facts["session_code"],
        "version": version, "issued_at": issued_at.isoformat(),
        "horaires": facts.get("hours") or "", "lieu": facts.get("place") or "",
        "template_version": facts.get("certificate_version") or 1, "layout": LAYOUT,
        # Layout 4 (issue 22): the attestation de fin de formation of article L6353-1 — objectives, nature
        # of the action, duration, and the results of the evaluation of learning (the quizzes).
        "objectifs": facts.get("objectives") or "", "nature": NATURE,
        "evaluations": facts.get("evaluations") or [],
        # Issue 23: the exit assessment's result per objective, only when the session has one (a
        # snapshot without the key prints no such table: layout 4 stays what it was for them), from
        # the best attempt — the attempt « Meilleur score » states, which the page says (snapshots
        # with "tentatives"); an entry assessment's first attempt, apart from the pass/fail table
        # ("positionnements", only when the session has one: older snapshots render as they did).
        "tentatives": "meilleure",
        **({"acquis": facts["acquis"]} if facts.get("acquis") else {}),
        **({"positionnements": facts["positionnements"]} if facts.get("positionnements") else {}),
        "heures_prevues": hours_text(planned) if planned else "",
        "heures_presence": hours_text(facts.get("attended_minutes") or 0) if planned else "",
        "verify_url": get_settings().base_url + VERIFY_PATH.format(code=code),
        TAGGED: True,  # issue 25: tagged PDF/UA (a snapshot without it renders untagged, as it was sealed)
    }


def _qr_data_uri(payload: str, layout: int, mask: int | None = None) -> str:
    """The QR code of the verification URL: SVG in layout 1; from layout 2 a PNG of one pixel per
    module (border of 2), drawn unsmoothed ("image-rendering: pixelated") so its edges stay sharp
    in print — the same code, without the SVG path WeasyPrint would parse at every certificate.
    ``mask``: a fixed mask pattern (any of the 8 is a valid code) instead of scoring all eight —
    a seventh of a certificat de réalisation's render."""
    import segno

    buffer = io.BytesIO()
    qr = segno.make(payload, error="m", mask=mask)
    if layout == 1:
        qr.save(buffer, kind="svg", scale=4, border=2, xmldecl=False, svgns=True)
        return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
    qr.save(buffer, kind="png", scale=1, border=2)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


REALISATION_QR_MASK = 0  # part of the certificat de réalisation's layout 1: never changed


def _layout(snapshot: dict) -> int:
    return snapshot.get("layout", 1)


def _context(snapshot: dict) -> dict:
    # The QR code as a PNG from layout 2 of the attestation, and on every certificat de réalisation (mask 0).
    if snapshot.get("kind") == "realisation":
        qr = _qr_data_uri(snapshot["verify_url"], 2, mask=REALISATION_QR_MASK)
    else:
        qr = _qr_data_uri(snapshot["verify_url"], _layout(snapshot))
    return {"c": snapshot, "qr": qr,
            "stamp": snapshot.get(STAMP_DATA, "")}


def template_of(snapshot: dict) -> str:
    """The template of the certificate's kind and of the layout it was issued with."""
    if snapshot.get("kind") == "realisation":
        return REALISATION_LAYOUTS[_layout(snapshot)]
    return LAYOUTS[_layout(snapshot)]


def render_sync(snapshot: dict) -> bytes:
    """The certificate's PDF from its snapshot, with the layout it was issued with: the same bytes
    every time (no clock in it). A plain function, so a process pool can run it. A certificat de
    réalisation's stamp image comes with it (`with_assets`), the snapshot keeping only its digest."""
    return render_pdf_sync(template_of(snapshot), _context(snapshot), tagged=bool(snapshot.get(TAGGED)))


STAMP_DATA = "_stamp_data"  # not stored: the stamp's image, added by with_assets before a render


async def with_assets(snapshots: list[dict]) -> list[dict]:
    """The snapshots ready to render: a certificat de réalisation gets the image of the stamp it
    was issued with (read from the settings by its SHA-256, one query for the batch)."""
    digests = {(s.get("organisme") or {}).get("cachet", "") for s in snapshots if s.get("kind") == "realisation"}
    digests.discard("")
    if not digests:
        return snapshots
    uris = await stamp_uris(digests)
    return [{**s, STAMP_DATA: uris.get((s.get("organisme") or {}).get("cachet", ""), "")}
            if s.get("kind") == "realisation" else s for s in snapshots]


def warm_up() -> None:
    """Run by a new render child (app/pdf/bounded.py) before its first render, outside any deadline:
    one certificate rendered loads the fonts, the stylesheet and the template."""
    values = {k: k for k in PLACEHOLDERS}
    render_sync({**values, "text": DEFAULT_TEXT, "session_code": "", "version": 1, "issued_at": "",
                 "horaires": "", "lieu": "", "template_version": 1, "layout": LAYOUT, TAGGED: True,
                 "verify_url": get_settings().base_url + VERIFY_PATH.format(code="2222222222")})


async def render(snapshot: dict) -> bytes:
    """In the render pool, with its deadline (app/pdf/bounded.py): never on the event loop, never
    blocking this process for long. Raises RenderFailed."""
    return await bounded.run_async(render_sync, (await with_assets([snapshot]))[0])


def _load(snapshot) -> dict:
    return json.loads(snapshot) if isinstance(snapshot, str) else snapshot
