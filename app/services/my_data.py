"""« Mes données » (issue 25, RGPD article 15): everything Tremplin holds about one person, as a ZIP
built by a job — one JSON file with it all, a CSV per kind of record (opened by a French spreadsheet:
UTF-8 with a BOM, « ; », every text formula-safe), and their certificates and convocations as PDFs.

What is collected is read from the tables by the person's id (and, for registration requests made
before they had an account, by their e-mail address): set-based, one query per kind of record. Secrets
never leave: the password hash, the sessions' version, the outbox's one-time passwords."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date, datetime, time
from pathlib import Path

from zipstream import ZipStream

from app.datatable.writers import CsvWriter
from app.dates import local_now, today
from app.pdf import bounded
from app.services import certificates
from app.pdf.render import render_pdf_sync
from app.services.convocations.common import TEMPLATE
from app.services.convocations.documents import pdf_context, pdf_filename
from app.services.convocations.facts import facts
from app.tables.accounts import RoleAssignment, User
from app.tables.certificates import Certificate
from app.tables.evidence import AttendanceRecord
from app.tables.learning import ActivityCompletion, Attendance, DiscussionMessage, Enrolment, QuizAttempt
from app.tables.quality import SurveyResponse
from app.tables.registration import RegistrationRequest

# The ZIP's name starts so (its download route serves no other job's result).
FILENAME_PREFIX = "mes-donnees-tremplin-"
# The account's columns that are no one's to read, not even its owner's.
SECRET_COLUMNS = ("password_hash", "credentials_version")
# A registration request's: the draft's cookie and the confirmation link's nonce (each opens the request).
REQUEST_SECRETS = ("draft_key", "confirmation_nonce")
# Requests found by the e-mail address alone are the person's only once the address was proven theirs
# (the confirmation link mailed to it was followed): anyone may type someone else's address in a draft.
UNPROVEN = ("draft", "awaiting_confirmation")


def _request_columns() -> list:
    return [c for c in RegistrationRequest._meta.columns if c._meta.name not in REQUEST_SECRETS]

README = """Vos données dans Tremplin
=========================

Ce fichier a été préparé le {when} à votre demande (« Mes données »). Il contient tout ce que
Tremplin conserve à votre sujet :

- donnees.json : l'ensemble, dans un seul fichier lisible par un programme ;
- un fichier CSV par type d'informations (ouvrable avec un tableur) :
{files}
- attestations/ : vos attestations et certificats de réalisation valides (PDF) ;
- convocations/ : vos convocations aux sessions à venir ou en cours (PDF).

Votre mot de passe n'y figure pas : Tremplin n'en conserve qu'une empreinte, qui ne permet pas de le
retrouver. Pour faire corriger une information, adressez-vous au gestionnaire de votre établissement ;
pour demander la suppression de votre compte, utilisez « Demander la suppression » sur la page
« Mes données ».
"""

LABELS = {
    "compte": "votre compte (identité, établissement, statut)",
    "roles": "vos rôles",
    "inscriptions": "vos inscriptions aux sessions",
    "activites_terminees": "les activités que vous avez terminées",
    "quiz": "vos tentatives aux quiz",
    "messages": "vos messages dans les discussions des sessions",
    "presences": "vos présences, créneau par créneau",
    "emargements": "vos émargements (les signatures électroniques, en PNG base64, dans donnees.json)",
    "demandes_inscription": "vos demandes d'inscription en ligne",
    "attestations": "vos attestations et certificats (toutes versions)",
    "questionnaires": "vos réponses nominatives aux questionnaires",
}


async def _account(user_id: int) -> list[dict]:
    columns = [c for c in User._meta.columns if c._meta.name not in SECRET_COLUMNS]
    return await User.select(*columns, User.establishment.code.as_alias("establishment_code"),
                             User.establishment.name.as_alias("establishment_name")).where(User.id == user_id)


async def collect(user_id: int) -> dict[str, list[dict]]:
    """Every record of the person, by kind (the keys of ``LABELS``)."""
    account = await _account(user_id)
    if not account:
        return {}
    email = account[0]["email"]
    mine = Enrolment.user == user_id
    enrolments = await Enrolment.select(
        Enrolment.all_columns(), Enrolment.session.code.as_alias("session_code"),
        Enrolment.session.full_name.as_alias("session_name"), Enrolment.session.start_date.as_alias("start_date"),
        Enrolment.session.end_date.as_alias("end_date")).where(mine).order_by(Enrolment.id)
    return {
        "compte": account,
        "roles": await RoleAssignment.select(
            RoleAssignment.role, RoleAssignment.delegation.code.as_alias("delegation_code"),
            RoleAssignment.establishment.code.as_alias("establishment_code"), RoleAssignment.created_at).where(
            RoleAssignment.user == user_id),
        "inscriptions": enrolments,
        "activites_terminees": await ActivityCompletion.select(
            ActivityCompletion.all_columns(), ActivityCompletion.enrolment.session.code.as_alias("session_code"),
            ActivityCompletion.activity.title.as_alias("activity_title")).where(
            ActivityCompletion.enrolment.user == user_id).order_by(ActivityCompletion.id),
        "quiz": await QuizAttempt.select(
            QuizAttempt.all_columns(), QuizAttempt.activity.title.as_alias("activity_title")).where(
            QuizAttempt.enrolment.user == user_id).order_by(QuizAttempt.id),
        "messages": await DiscussionMessage.select(
            DiscussionMessage.id, DiscussionMessage.session.code.as_alias("session_code"), DiscussionMessage.body,
            DiscussionMessage.created_at, DiscussionMessage.hidden_at).where(
            DiscussionMessage.author == user_id).order_by(DiscussionMessage.id),
        "presences": await Attendance.select(
            Attendance.enrolment, Attendance.slot.day.as_alias("day"), Attendance.slot.starts.as_alias("starts"),
            Attendance.slot.ends.as_alias("ends"), Attendance.status, Attendance.recorded_at).where(
            Attendance.enrolment.user == user_id).order_by(Attendance.id),
        "emargements": await AttendanceRecord.select(
            AttendanceRecord.enrolment, AttendanceRecord.slot.day.as_alias("day"), AttendanceRecord.status,
            AttendanceRecord.method, AttendanceRecord.recorded_at, AttendanceRecord.reason,
            AttendanceRecord.signature).where(AttendanceRecord.enrolment.user == user_id).order_by(AttendanceRecord.id),
        "demandes_inscription": await RegistrationRequest.select(*_request_columns()).where(
            (RegistrationRequest.user == user_id) | ((RegistrationRequest.email == email)
                                                     & RegistrationRequest.status.not_in(UNPROVEN))).order_by(
            RegistrationRequest.id),
        "attestations": await Certificate.select(
            Certificate.id, Certificate.enrolment, Certificate.kind, Certificate.version, Certificate.code,
            Certificate.issued_at, Certificate.status, Certificate.revoked_reason, Certificate.snapshot).where(
            Certificate.enrolment.user == user_id).order_by(Certificate.id),
        "questionnaires": await SurveyResponse.select(
            SurveyResponse.id, SurveyResponse.session.code.as_alias("session_code"), SurveyResponse.phase,
            SurveyResponse.submitted_on, SurveyResponse.answers).where(
            SurveyResponse.enrolment.user == user_id).order_by(SurveyResponse.id),
    }


def _plain(value):
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return None
    return value


def _csv(rows: list[dict]) -> bytes:
    headers = list(rows[0]) if rows else ["(aucune donnée)"]
    writer = CsvWriter(headers)
    writer.write_rows([[_plain(row[h]) if not isinstance(row[h], (list, dict)) else json.dumps(row[h], default=str)
                        for h in headers] for row in rows])
    return writer.close()


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "document"


async def documents(data: dict[str, list[dict]]) -> list[tuple[str, bytes]]:
    """(path in the ZIP, PDF) of the person's valid certificates and their active enrolments'
    convocations, rendered side by side by the process's render pool."""
    valid = [c for c in data.get("attestations", []) if c["status"] == "valid"]
    snapshots = await certificates.with_assets([c["snapshot"] if isinstance(c["snapshot"], dict)
                                                else json.loads(c["snapshot"] or "{}") for c in valid])
    active = [e["id"] for e in data.get("inscriptions", []) if e["active"]]
    # Convocations to the sessions not over yet (a past one's is no use; its certificate says it all).
    convoked = [f for f in (await facts(active)).values()
                if not f.get("cancelled_at") and f["end_date"] >= today()] if active else []
    rendered = await asyncio.gather(
        *(bounded.run_async(certificates.render_sync, snapshot) for snapshot in snapshots),
        *(bounded.run_async(render_pdf_sync, TEMPLATE, pdf_context(f)) for f in convoked))
    names = [f"attestations/{_safe_name(c['kind'])}-{_safe_name(c['code'])}-v{c['version']}.pdf" for c in valid]
    names += [f"convocations/{_safe_name(pdf_filename(f))}" for f in convoked]
    return list(zip(names, rendered))


def write_zip(path: Path, data: dict[str, list[dict]], pdfs: list[tuple[str, bytes]]) -> None:
    """The ZIP, streamed to ``path`` (a scratch file): README, JSON, CSVs, PDFs."""
    stream = ZipStream(sized=False, compress_type=8)  # deflated: JSON and CSV shrink well
    kinds = [k for k in LABELS if k in data]
    listing = "\n".join(f"  - {k}.csv : {LABELS[k]}" for k in kinds)
    stream.add(README.format(when=f"{local_now():%d/%m/%Y à %H:%M}", files=listing).encode(), arcname="LISEZ-MOI.txt")
    stream.add(json.dumps({k: data[k] for k in kinds}, ensure_ascii=False, indent=1,
                          default=_plain).encode(), arcname="donnees.json")
    for kind in kinds:
        # A drawn signature (a PNG in base64) overflows a spreadsheet's cell: in donnees.json only.
        rows = [{k: v for k, v in row.items() if k != "signature"} for row in data[kind]]
        stream.add(_csv(rows), arcname=f"{kind}.csv")
    for name, pdf in pdfs:
        stream.add(pdf, arcname=name, compress_type=0)
    partial = path.with_suffix(".part")
    with open(partial, "wb") as out:
        for chunk in stream:
            out.write(chunk)
    partial.replace(path)
