"""Certificates of training follow-up (« Attestation de suivi de formation », SPEC D3).

Issued in the transaction that completes the enrolment (`learning.refresh_and_issue`, after an
activity or attendance), and idempotently on first request for an enrolment completed some other
way (`for_enrolment`): an enrolment gets a certificate by itself once, when it has none at all; after
a revocation only a manager's « Réémettre » makes a new one.

The snapshot is what the certificate states, frozen at issue (with the version of the session's
certificate text that produced it): the PDF is rendered again from it, byte for byte (its metadata
dates are the issue date), and its SHA-256 is kept to verify a copy. The row is written in the
completion's transaction with no hash yet; the PDF is rendered and hashed after commit (`seal`:
inline for a few, by the `seal_certificates` job for many), so WeasyPrint never holds a
transaction open. A certificate still unsealed is rendered on its first download or verification
and sealed then: it is downloadable the moment its row is committed. One whose seal job could not be
queued or was lost is sealed by the `seal_unsealed_certificates` cron a minute after its issue.

Verification codes: 9 random characters of an unambiguous alphabet (no 0/O/1/I/L), then a check
character: the sum of each character's value times its position (1 to 9), modulo 31. 31 is prime
and larger than the positions, so any single wrong character and any swap of two neighbours is
detected. Shown as XXXXX-XXXXX; typed with or without the dash, spaces, lower case.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import secrets
from datetime import datetime, timedelta

from app import db
from app.dates import day_fr, local_now, now
from app.jobs import kinds
from app.pdf import bounded
from app.pdf.render import render_pdf_sync
from app.queue import connect
from app.services import slots, user_templates
from app.services.accounts import is_fictitious
from app.services.errors import DomainError, NotFound, ValidationFailed
from app.services.outbox import Attachment, queue_mail
from app.services.roles import CurrentUser
from app.services.scope import establishment_scope
from app.services.session_names import name_for_documents
from app.services.slots import hours_text
from app.settings import get_settings
from app.tables.accounts import User
from app.tables.catalogue import SessionSlot
from app.tables.certificates import Certificate, CertificateStatus
from app.tables.learning import Enrolment
from app.tables.outbox import Mail

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # 31 characters: no 0 O 1 I L
BODY_LENGTH = 9
CODE_LENGTH = BODY_LENGTH + 1
VERIFY_PATH = "/verifier/{code}"  # the route certificates.verify_code; kept in the snapshot's URL
NOT_FOUND = "Attestation introuvable."
# The certificate's layout is part of its snapshot ("layout"): a layout change never alters the bytes
# of a certificate already issued (its SHA-256 is kept). Snapshots without it were made with layout 1.
# Layout 3 (issue 20): one duration — the planned hours from the slots (the template's estimate only
# for a session without slots) — and the hours attended; a session name whose dates are stale is not printed.
LAYOUTS = {1: "pdf/certificate_v1.html", 2: "pdf/certificate.html", 3: "pdf/certificate_v3.html"}
LAYOUT = 3
UPLOAD_MAX_BYTES = 5 * 1024 * 1024
RESEND_AFTER = timedelta(minutes=10)  # « Envoyer par courriel » again within this: not mailed twice
JUST_SENT = ("Cette attestation vient d'être envoyée à l'apprenant : elle ne lui est pas envoyée une seconde fois "
             "(réessayez dans quelques minutes si nécessaire).")

PLACEHOLDERS = {
    "civilite": "civilité (M. / Mme)",
    "prenom": "prénom",
    "nom": "nom",
    "session": "intitulé de la session",
    "date_debut": "date de début",
    "date_fin": "date de fin",
    "duree": "durée",
    "etablissement": "établissement",
    "date_delivrance": "date de délivrance",
    "code": "code de vérification",
}
DEFAULT_TEXT = (
    "Je soussigné(e), responsable de la formation, atteste que {civilite} {prenom} {nom} a suivi "
    "la formation « {session} » du {date_debut} au {date_fin} ({duree}), organisée pour "
    "l'établissement {etablissement}, et en a achevé toutes les activités obligatoires."
)
STATUS_LABELS = {
    CertificateStatus.valid.value: "Valide",
    CertificateStatus.revoked.value: "Révoquée",
    CertificateStatus.superseded.value: "Remplacée par une version plus récente",
}


# -- codes -------------------------------------------------------------------------------------
def check_char(body: str) -> str:
    return ALPHABET[sum((i + 1) * ALPHABET.index(c) for i, c in enumerate(body)) % len(ALPHABET)]


def new_code() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return body + check_char(body)


def normalize_code(typed: str) -> str | None:
    """The stored form of a typed code, or None when it cannot be one (length, alphabet, check)."""
    code = "".join(c for c in (typed or "").upper() if c not in " -\t.")
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code if check_char(code[:-1]) == code[-1] else None


def display_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


# -- the template text -------------------------------------------------------------------------
def template_errors(text: str) -> str | None:
    """A French message when a certificate text (a session's, a course template's) has an unknown
    placeholder, a placeholder with a format ({prenom:>1000000}) or a stray brace; None when it can
    be filled in (app/services/user_templates.py)."""
    return user_templates.problem(text, PLACEHOLDERS)


def fill(text: str, values: dict) -> str:
    """By substitution only, capped: a text stored before formats were refused is filled safely too."""
    return user_templates.fill(text or DEFAULT_TEXT, {k: values.get(k, "") for k in PLACEHOLDERS})


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
    "COALESCE(t.duration, '') AS duration, " + CIVILITY_SQL + " AS civility "
    "FROM enrolment e JOIN app_user u ON u.id = e.\"user\" JOIN training_session s ON s.id = e.session "
    "JOIN establishment es ON es.id = s.establishment LEFT JOIN course_template t ON t.id = s.template "
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
    return {r["id"]: r for r in rows}


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
        "heures_prevues": hours_text(planned) if planned else "",
        "heures_presence": hours_text(facts.get("attended_minutes") or 0) if planned else "",
        "verify_url": get_settings().base_url + VERIFY_PATH.format(code=code),
    }


def _qr_data_uri(payload: str, layout: int) -> str:
    """The QR code of the verification URL: SVG in layout 1; from layout 2 a PNG of one pixel per
    module (border of 2), drawn unsmoothed ("image-rendering: pixelated") so its edges stay sharp
    in print — the same code, without the SVG path WeasyPrint would parse at every certificate."""
    import segno

    buffer = io.BytesIO()
    qr = segno.make(payload, error="m")
    if layout == 1:
        qr.save(buffer, kind="svg", scale=4, border=2, xmldecl=False, svgns=True)
        return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
    qr.save(buffer, kind="png", scale=1, border=2)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _layout(snapshot: dict) -> int:
    return snapshot.get("layout", 1)


def _context(snapshot: dict) -> dict:
    return {"c": snapshot, "qr": _qr_data_uri(snapshot["verify_url"], _layout(snapshot))}


def render_sync(snapshot: dict) -> bytes:
    """The certificate's PDF from its snapshot, with the layout it was issued with: the same bytes
    every time (no clock in it). A plain function, so a process pool can run it."""
    return render_pdf_sync(LAYOUTS[_layout(snapshot)], _context(snapshot))


def warm_up() -> None:
    """Run by a new render child (app/pdf/bounded.py) before its first render, outside any deadline:
    one certificate rendered loads the fonts, the stylesheet and the template."""
    values = {k: k for k in PLACEHOLDERS}
    render_sync({**values, "text": DEFAULT_TEXT, "session_code": "", "version": 1, "issued_at": "",
                 "horaires": "", "lieu": "", "template_version": 1, "layout": LAYOUT,
                 "verify_url": get_settings().base_url + VERIFY_PATH.format(code="2222222222")})


async def render(snapshot: dict) -> bytes:
    """In the render pool, with its deadline (app/pdf/bounded.py): never on the event loop, never
    blocking this process for long. Raises RenderFailed."""
    return await bounded.run_async(render_sync, snapshot)


def _load(snapshot) -> dict:
    return json.loads(snapshot) if isinstance(snapshot, str) else snapshot


UNSEALED = ""  # pdf_sha256 of a certificate whose PDF is not rendered yet
SEAL_INLINE = 5  # more certificates than this to seal after one action: the job does it


def _new_rows(facts_by_id: dict[int, dict], versions: dict[int, int]) -> list[dict]:
    """The rows of new certificates, without their PDF (rendered after commit, see `seal`)."""
    issued_at = now().replace(microsecond=0)
    rows = []
    for enrolment_id, facts in facts_by_id.items():
        code = new_code()
        snapshot = _snapshot(facts, code, versions.get(enrolment_id, 1), issued_at)
        rows.append({"enrolment": enrolment_id, "version": snapshot["version"], "code": code,
                     "issued_at": issued_at, "snapshot": json.dumps(snapshot, ensure_ascii=False, sort_keys=True),
                     "pdf_sha256": UNSEALED})
    return rows


async def _insert(rows: list[dict]) -> int:
    """Insert new versions; a concurrent issue of the same enrolment (or an improbable code clash)
    is a no-op thanks to the unique indexes."""
    if not rows:
        return 0
    values = ", ".join("({}, {}, {}, {}, {}, {}, 'valid')" for _ in rows)
    args = [a for r in rows for a in (r["enrolment"], r["version"], r["code"], r["issued_at"], r["snapshot"],
                                      r["pdf_sha256"])]
    inserted = await Certificate.raw(
        "INSERT INTO certificate (enrolment, version, code, issued_at, snapshot, pdf_sha256, status) "
        f"VALUES {values} ON CONFLICT DO NOTHING RETURNING enrolment", *args)
    return [r["enrolment"] for r in inserted]


def certificate_due_sql(enrolment: str = "e") -> tuple[str, list]:
    """The condition (and its arguments) for a complete enrolment's certificate to be due (issue 20):
    a session without slots, at once (its activities are the training); a session with slots, only
    once its last slot has ended (Paris wall clock) and the learner's attendance is recorded for every
    slot — a certificate never attests hours that have not taken place, nor unrecorded ones."""
    moment = local_now()
    day, clock = moment.date(), moment.time().replace(microsecond=0, tzinfo=None)
    args: list = [day.isoformat(), day.isoformat(), clock.isoformat()] if db.is_sqlite() else [day, day, clock]
    return ((f"(NOT EXISTS (SELECT 1 FROM session_slot dsl JOIN enrolment de ON de.session = dsl.session "
             f"WHERE de.id = {enrolment}.id) OR ("
             f"NOT EXISTS (SELECT 1 FROM session_slot dsl JOIN enrolment de ON de.session = dsl.session "
             f"WHERE de.id = {enrolment}.id AND (dsl.day > {{}} OR (dsl.day = {{}} AND dsl.ends > {{}}))) "
             f"AND NOT EXISTS (SELECT 1 FROM session_slot dsl JOIN enrolment de ON de.session = dsl.session "
             f"WHERE de.id = {enrolment}.id AND NOT EXISTS (SELECT 1 FROM attendance da "
             f"WHERE da.enrolment = {enrolment}.id AND da.slot = dsl.id))))"), args)


async def issue_for_enrolments(enrolment_ids: list[int]) -> list[int]:
    """Issue the first certificate of every completed enrolment among these that has none.
    Runs in the caller's transaction (the completion's). Returns the enrolments that got one."""
    if not enrolment_ids:
        return []

    ids = sorted(set(int(i) for i in enrolment_ids))
    when_due, args = certificate_due_sql("e")
    async with db.transaction():
        due = await Enrolment.raw(
            "SELECT e.id FROM enrolment e WHERE e.id IN (" + ", ".join(str(i) for i in ids) + ") "
            "AND e.completed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM certificate c WHERE c.enrolment = e.id) "
            "AND " + when_due, *args)
        facts = await _facts([r["id"] for r in due])
        return await _insert(_new_rows(facts, {}))


def _in_transaction() -> bool:
    return db.engine().current_transaction.get() is not None


async def _store_hashes(hashes: dict[int, str]) -> int:
    """One UPDATE for any number; only rows still unsealed (a concurrent seal wrote the same).
    Returns how many this UPDATE sealed."""
    if not hashes:
        return 0
    cases = " ".join("WHEN {} THEN {}" for _ in hashes)
    args = [a for pair in hashes.items() for a in pair]
    ids = ", ".join(str(int(i)) for i in hashes)
    rows = await Certificate.raw(f"UPDATE certificate SET pdf_sha256 = CASE id {cases} END "
                                 f"WHERE id IN ({ids}) AND pdf_sha256 = '' RETURNING id", *args)
    return len(rows)


# « Échec de génération »: a PDF that could not be rendered (an error, or past the render deadline) is
# tried again by the cron after a delay, RENDER_ATTEMPTS times in all, then given up: shown to managers
# (session's certificates page) and on /ops, until a re-issue (e.g. after the text is fixed).
RENDER_ATTEMPTS = 3
RENDER_RETRY_AFTER = (timedelta(minutes=5), timedelta(minutes=30))  # after the 1st, the 2nd failure


class NotRendered(DomainError):
    status_code = 503

    def __init__(self, reason: str):
        super().__init__(f"Le PDF de cette attestation n'a pas pu être généré ({reason}). Un gestionnaire peut "
                         "corriger le texte de l'attestation de la session puis la réémettre.")


def failure_reason(error: Exception) -> str:
    if isinstance(error, bounded.RenderFailed):
        return str(error)
    return f"erreur pendant le rendu du PDF ({type(error).__name__})"[:300]


async def _record_failures(failures: dict[int, str]) -> None:
    """Each certificate's failed attempt and its reason (one UPDATE), then when it may be tried again
    (one UPDATE per delay)."""
    if not failures:
        return
    ids = ", ".join(str(int(i)) for i in failures)
    cases = " ".join("WHEN {} THEN {}" for _ in failures)
    args = [a for pair in failures.items() for a in pair]
    await Certificate.raw(
        f"UPDATE certificate SET render_error = CASE id {cases} END, render_attempts = render_attempts + 1, "
        f"render_retry_at = NULL WHERE id IN ({ids}) AND pdf_sha256 = ''", *args)
    at = now()
    for attempts, delay in enumerate(RENDER_RETRY_AFTER, start=1):  # when each may be tried again
        await Certificate.update({Certificate.render_retry_at: at + delay}).where(
            Certificate.id.is_in(list(failures)) & (Certificate.render_attempts == attempts))


def given_up(row: dict) -> bool:
    return bool(row.get("render_error")) and row.get("render_attempts", 0) >= RENDER_ATTEMPTS


async def _seal_rows(rows: list[dict]) -> int:
    """Render and hash these unsealed certificates (id, snapshot), stored by one UPDATE; one that
    cannot be rendered (an error, or past the render deadline) gets its failed attempt recorded,
    never holding up the others. Returns how many this call sealed."""
    hashes, failures = {}, {}
    for r in rows:
        try:
            hashes[r["id"]] = hashlib.sha256(await render(_load(r["snapshot"]))).hexdigest()
        except Exception as error:  # noqa: BLE001 - recorded: retried later a bounded number of times
            logging.getLogger(__name__).warning("certificate %s: its PDF could not be rendered: %s", r["id"], error)
            failures[r["id"]] = failure_reason(error)
    await _record_failures(failures)
    return await _store_hashes(hashes)


async def seal_now(enrolment_ids: list[int]) -> int:
    """Render and hash the unsealed certificates of these enrolments (outside any transaction)."""
    if not enrolment_ids:
        return 0
    rows = await Certificate.select(Certificate.id, Certificate.snapshot).where(
        Certificate.enrolment.is_in(sorted(set(enrolment_ids))) & (Certificate.pdf_sha256 == UNSEALED)
        & (Certificate.render_attempts < RENDER_ATTEMPTS))
    return await _seal_rows(rows)


SWEEP_AGE = timedelta(minutes=1)  # younger ones are being sealed by their own action or job
SWEEP_BATCH = 50
SWEEP_MAX = 300  # per run (~85 ms a PDF: well within the minute between two runs)
SWEEP_BUDGET = timedelta(seconds=50)  # no new batch after this: renders failing at their deadline wait the next run


async def seal_unsealed(older_than: timedelta = SWEEP_AGE, batch: int = SWEEP_BATCH, limit: int = SWEEP_MAX) -> int:
    """Cron: certificates still unsealed a minute after their issue (their seal job could not be
    queued, or was lost) are rendered and hashed here, by batches — one SELECT and one UPDATE each,
    no transaction held while WeasyPrint renders. Idempotent: only unsealed rows are written, so a
    second worker running it at the same time writes nothing twice (the PDF is the same bytes).
    One whose render failed waits for its retry time, and is given up after RENDER_ATTEMPTS.
    Returns how many this run sealed."""
    sealed = seen = after = 0
    before = started = now()
    before -= older_than
    while seen < limit and now() - started < SWEEP_BUDGET:
        rows = await Certificate.raw(
            "SELECT id, snapshot FROM certificate WHERE pdf_sha256 = '' AND issued_at < {} AND id > {} "
            "AND render_attempts < {} AND (render_retry_at IS NULL OR render_retry_at <= {}) "
            "ORDER BY id LIMIT {}", before, after, RENDER_ATTEMPTS, now(), min(batch, limit - seen))
        if not rows:
            break
        sealed += await _seal_rows(rows)
        after, seen = rows[-1]["id"], seen + len(rows)
    return sealed


async def seal(enrolment_ids: list[int], redis=None) -> int:
    """After the commit that issued these enrolments' certificates: render and hash their PDFs, here
    for a few, by the `seal_certificates` job for many. Inside a caller's transaction it does
    nothing: that caller seals after its own commit (or the first download does). Returns how many
    were sealed here."""
    if not enrolment_ids or _in_transaction():
        return 0
    if len(enrolment_ids) <= SEAL_INLINE:
        return await seal_now(enrolment_ids)

    ids = sorted(set(int(i) for i in enrolment_ids))
    own = redis is None
    try:
        redis = redis or await connect()
        digest = hashlib.sha256(repr(ids).encode()).hexdigest()[:16]
        await kinds.SEAL_CERTIFICATES.enqueue(redis, ids, _job_id=f"seal-certificates:{digest}")
    except Exception:  # noqa: BLE001 - the certificates are issued; the first download seals them
        logging.getLogger(__name__).exception("Could not queue the sealing of %d certificates", len(ids))
    finally:
        if own and redis is not None:
            await redis.aclose()
    return 0


# -- reading -------------------------------------------------------------------------------------
_COLUMNS = (
    Certificate.id, Certificate.enrolment, Certificate.version, Certificate.code, Certificate.issued_at,
    Certificate.status, Certificate.status_changed_at, Certificate.revoked_reason, Certificate.pdf_sha256,
    Certificate.snapshot, Certificate.render_attempts, Certificate.render_error,
    Certificate.enrolment.session.as_alias("session"),
    Certificate.enrolment.user.as_alias("user"),
    Certificate.enrolment.session.establishment.as_alias("establishment"),
)


def _shape(row: dict) -> dict:
    row = dict(row)
    row["snapshot"] = _load(row["snapshot"])
    row["display_code"] = display_code(row["code"])
    row["status_label"] = STATUS_LABELS[row["status"]]
    row["filename"] = filename(row)
    # « Échec de génération »: only said of a valid one (a replaced or revoked one is not handed out).
    row["render_failed"] = row["status"] == CertificateStatus.valid and row["pdf_sha256"] == UNSEALED \
        and bool(row.get("render_error"))
    row["render_given_up"] = row["render_failed"] and given_up(row)
    return row


def filename(row: dict) -> str:
    snap = _load(row["snapshot"])
    name = "".join(c if c.isalnum() else "-" for c in f"{snap['nom']}-{snap['prenom']}").strip("-")
    return f"attestation-{snap['session_code']}-{name}-v{row['version']}.pdf"


async def for_enrolment(enrolment_id: int) -> dict | None:
    """The enrolment's current certificate (the valid one, else its latest version), issuing it
    first if the enrolment is complete and has none. None before completion. For the learner's page
    (partial certificates/_learner.html) and the managers' overview (« Afficher le Certificat »)."""
    await issue_for_enrolments([enrolment_id])
    row = await Certificate.select(*_COLUMNS).where(Certificate.enrolment == enrolment_id).order_by(
        Certificate.version, ascending=False).first()
    return _shape(row) if row else None


async def for_session(session_id: int) -> list[dict]:
    """Every version of every certificate of a session, by learner then newest first (one query)."""
    await issue_for_session(session_id)
    rows = await Certificate.select(*_COLUMNS).where(Certificate.enrolment.session == session_id).order_by(
        Certificate.enrolment.user.last_name_key).order_by(Certificate.enrolment.user.first_name_key).order_by(
        Certificate.enrolment).order_by(Certificate.version, ascending=False)
    return [_shape(r) for r in rows]


async def issue_for_session(session_id: int) -> int:
    """Completed enrolments of a session that have none yet (completed by a change of the session's
    activities rather than by a completion): issued idempotently on first request."""
    rows = await Enrolment.raw(
        "SELECT e.id FROM enrolment e WHERE e.session = {} AND e.completed_at IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM certificate c WHERE c.enrolment = e.id)", int(session_id))
    return await issue_for_enrolments([r["id"] for r in rows])


async def in_scope(user: CurrentUser, certificate_id: int) -> dict:
    """A certificate a manager may see: missing and out of scope answer the same."""
    row = await Certificate.select(*_COLUMNS).where(Certificate.id == certificate_id).first()
    if row is None or not (await establishment_scope(user)).allows(row["establishment"]):
        raise NotFound(NOT_FOUND)
    return _shape(row)


async def learner_certificate(user: CurrentUser, session_id: int) -> dict:
    """The learner's own valid certificate for a session; anything else is « introuvable ». Also
    once they are no longer enrolled: a certificate attests training actually completed, which
    unenrolment does not undo (their record is kept, and the certificate stays valid when verified)."""
    enrolment = await Enrolment.select(Enrolment.id).where(
        (Enrolment.session == session_id) & (Enrolment.user == user.id)).first()
    certificate = await for_enrolment(enrolment["id"]) if enrolment else None
    if certificate is None or certificate["status"] != CertificateStatus.valid:
        raise NotFound(NOT_FOUND)
    return certificate


async def pdf_of(certificate: dict) -> bytes:
    """The certificate's PDF; an unsealed one gets its hash stored now (same bytes as any later render).
    One whose generation failed (given up) is not rendered again on demand: a French message says so;
    a render failing now is recorded and says so too."""
    if certificate["pdf_sha256"] == UNSEALED and given_up(certificate):
        raise NotRendered(certificate["render_error"])
    try:
        pdf = await render(certificate["snapshot"])
    except Exception as error:  # noqa: BLE001 - recorded and said in French, never a 500
        if certificate["pdf_sha256"] != UNSEALED:
            raise
        reason = failure_reason(error)
        logging.getLogger(__name__).warning("certificate %s: its PDF could not be rendered: %s", certificate["id"], reason)
        await _record_failures({certificate["id"]: reason})
        raise NotRendered(reason) from None
    if certificate["pdf_sha256"] == UNSEALED:
        certificate["pdf_sha256"] = hashlib.sha256(pdf).hexdigest()
        await _store_hashes({certificate["id"]: certificate["pdf_sha256"]})
    return pdf


# -- revocation and new versions -------------------------------------------------------------------
async def revoke(user: CurrentUser, certificate_id: int, reason: str) -> dict:
    certificate = await in_scope(user, certificate_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": "Indiquez le motif de la révocation (il est conservé)."})
    if len(reason) > 500:
        raise ValidationFailed({"reason": "Le motif ne peut pas dépasser 500 caractères."})
    changed = await Certificate.update({
        Certificate.status: CertificateStatus.revoked, Certificate.revoked_reason: reason,
        Certificate.revoked_by: user.id, Certificate.status_changed_at: now(),
    }).where((Certificate.id == certificate_id) & (Certificate.status == CertificateStatus.valid)).returning(
        Certificate.id)
    if not changed:
        raise ValidationFailed({"reason": "Seule une attestation valide peut être révoquée."})
    return certificate


async def reissue(user: CurrentUser, certificate_id: int) -> dict:
    """A new version from today's facts (e.g. a corrected name); the valid one becomes superseded.
    Only from the enrolment's latest version, and only while the enrolment is complete."""
    certificate = await in_scope(user, certificate_id)
    enrolment_id = certificate["enrolment"]
    async with db.transaction():
        latest = await Certificate.select(Certificate.id, Certificate.version).where(
            Certificate.enrolment == enrolment_id).order_by(Certificate.version, ascending=False).first()
        if latest["id"] != certificate_id:
            raise ValidationFailed({"version": "Une version plus récente existe : réémettez depuis celle-ci."})
        facts = (await _facts([enrolment_id])).get(enrolment_id)
        if facts is None or facts["completed_at"] is None:
            raise ValidationFailed({"version": "L'inscription n'est plus achevée : pas de nouvelle attestation."})
        if not await _due([enrolment_id]):  # a re-issue applies today's rule (issue 20)
            raise ValidationFailed({"version": NOT_DUE})
        await Certificate.update({Certificate.status: CertificateStatus.superseded,
                                  Certificate.status_changed_at: now()}).where(
            (Certificate.enrolment == enrolment_id) & (Certificate.status == CertificateStatus.valid))
        rows = _new_rows({enrolment_id: facts}, {enrolment_id: latest["version"] + 1})
        if not await _insert(rows):
            raise ValidationFailed({"version": "L'attestation vient d'être modifiée : rechargez la page."})
    await seal([enrolment_id])
    return await for_enrolment(enrolment_id)


NOT_DUE = ("Pas de nouvelle attestation avant la fin du dernier créneau de la session et la saisie des présences "
           "de l'apprenant à chaque créneau.")


async def _due(enrolment_ids: list[int]) -> list[int]:
    """Those of these enrolments whose certificate may be issued now (certificate_due_sql)."""
    if not enrolment_ids:
        return []
    when_due, args = certificate_due_sql("e")
    rows = await Enrolment.raw("SELECT e.id FROM enrolment e WHERE e.id IN ("
                               + ", ".join(str(int(i)) for i in sorted(set(enrolment_ids))) + ") AND " + when_due, *args)
    return [r["id"] for r in rows]


DUE_BATCH = 500


async def issue_due(limit: int = DUE_BATCH) -> list[int]:
    """Cron (issue 20): complete enrolments of sessions with slots whose certificate became due since —
    the last slot has ended after their attendance was recorded — get it, set-based (one SELECT, one
    INSERT per batch). Returns the enrolments that got one; the caller seals them."""
    when_due, args = certificate_due_sql("e")
    rows = await Enrolment.raw(
        "SELECT e.id FROM enrolment e WHERE e.completed_at IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM session_slot sl WHERE sl.session = e.session) "
        "AND NOT EXISTS (SELECT 1 FROM certificate c WHERE c.enrolment = e.id) AND " + when_due
        + f" ORDER BY e.id LIMIT {int(limit)}", *args)
    return list(await issue_for_enrolments([r["id"] for r in rows]) or [])


# -- public verification -------------------------------------------------------------------------
async def verify(typed_code: str) -> dict | None:
    """What the public page shows for a code, and nothing else; None for unknown or malformed."""
    code = normalize_code(typed_code)
    if code is None:
        return None
    row = await Certificate.select(Certificate.code, Certificate.status, Certificate.snapshot,
                                   Certificate.pdf_sha256, Certificate.enrolment).where(Certificate.code == code).first()
    if row is None:
        return None
    if row["pdf_sha256"] == UNSEALED:  # not rendered yet: its hash now, for the upload check
        await seal_now([row["enrolment"]])
        row["pdf_sha256"] = (await Certificate.select(Certificate.pdf_sha256).where(
            Certificate.code == code).first())["pdf_sha256"]
    snap = _load(row["snapshot"])
    return {
        "code": display_code(code), "status": row["status"], "status_label": STATUS_LABELS[row["status"]],
        "name": " ".join(p for p in (snap["civilite"], snap["prenom"], snap["nom"]) if p),
        "session": snap["session"], "start": snap["date_debut"], "end": snap["date_fin"],
        "issued": snap["date_delivrance"], "pdf_sha256": row["pdf_sha256"],
    }


def pdf_matches(found: dict, content: bytes) -> bool:
    return secrets.compare_digest(hashlib.sha256(content).hexdigest(), found["pdf_sha256"])


# -- mail ----------------------------------------------------------------------------------------
async def mail_to_learner(user: CurrentUser, certificate_id: int) -> int:
    """Queue the certificate for its learner through the outbox (PDF attached)."""
    certificate = await in_scope(user, certificate_id)
    if certificate["status"] != CertificateStatus.valid:
        raise ValidationFailed({"mail": "Seule une attestation valide peut être envoyée."})
    learner = await User.select(User.email).where(User.id == certificate["user"]).first()
    if is_fictitious(learner["email"]):  # the outbox would never send it: say so instead of « envoyée »
        raise ValidationFailed({"mail": "Cet apprenant n'a pas d'adresse électronique (adresse fictive) : "
                                        "téléchargez l'attestation et remettez-la-lui."})
    snap = certificate["snapshot"]
    body = (f"Bonjour {snap['prenom']} {snap['nom']},\n\nVous trouverez ci-joint votre attestation de suivi "
            f"de la formation « {snap['session']} ».\nElle peut être vérifiée à tout moment avec le code "
            f"{snap['code']} : {snap['verify_url']}\n\nL'équipe Tremplin\n")
    key = f"certificate:{certificate_id}"
    # Only a mail to the learner's current address counts: after a corrected address, sending again is the point.
    recently = (Mail.group_key == key) & (Mail.category == "certificate") \
        & (Mail.created_at > now() - RESEND_AFTER) & (Mail.status != "failed") \
        & (Mail.intended_recipients == learner["email"].strip())
    if await Mail.exists().where(recently):  # the usual second click: refused before any rendering
        raise ValidationFailed({"mail": JUST_SENT})
    pdf = await pdf_of(certificate)
    async with db.write_transaction():
        # A double click, or a second tab, mails it once: the certificate's row is locked while the
        # recent mails of it are read (SQLite: the write transaction runs alone).
        if not db.is_sqlite():
            await Certificate.raw("SELECT id FROM certificate WHERE id = {} FOR UPDATE", certificate_id)
        if await Mail.exists().where(recently):  # two at once: the lock lets one through
            raise ValidationFailed({"mail": JUST_SENT})
        return await queue_mail(learner["email"], "Votre attestation de suivi de formation", body,
                                attachments=[Attachment(certificate["filename"], "application/pdf", pdf)],
                                category="certificate", group_key=key)
