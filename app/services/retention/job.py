"""The daily retention job (issue 25): each step one set-based statement (or a few), never one per
account, and each conditional on what it changes, so a second run the same day changes nothing.

1. An account used again after its warning loses the warning (a login cancels it).
2. Accounts unused for the period less the warning's days are warned once: the date is recorded and a
   mail written to the outbox (one INSERT … SELECT), sent by the outbox's own jobs.
3. Accounts unused for the whole period, warned at least the warning's days ago (or deactivated by a
   manager that long ago: nobody to warn, they cannot log in), are pseudonymised: name, e-mail,
   matricule and username replaced by ``pseudonyme#<id>`` forms, folded keys with them, password
   unusable, deactivated, open sessions ended, roles other than the learner's and trainer's removed;
   each recorded « Compte pseudonymisé » (one INSERT … SELECT). An active account holding a management
   role (administrator, GED, GET, registration, operations) is never pseudonymised nor warned by this
   job: it is counted in the report for an administrator to decide. A deactivated one is (it left).
   Their training evidence stays under a legal hold: the enrolments (anonymous now), and the
   certificates whose frozen snapshot still states the name — the certificate must read as issued
   for an audit — with the attendance records and their signatures.
4. That evidence goes at the end of its own retention (the session's end plus the evidence period,
   or the FSE period for a session co-financed by the FSE): attendance (the hours per slot) and its
   records with their signatures, certificates. An active account's evidence is never deleted: the
   person still uses their training history. The signed sheets (supporting evidence) lose their
   snapshot, countersignature and PDF at the end of theirs (the file is then unreferenced: the daily
   file cleaner removes it); their code and the SHA-256 of the PDF stay, so a copy kept elsewhere can
   still be checked on « Vérifier ».
5. Registration drafts and requests never confirmed, requests past their retention, mail attachments
   (the BI) and mail bodies (emptied, the row's metadata kept) past theirs.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

from app import db
from app.dates import date_fr, months_before, now
from app.services import audit
from app.services.retention.settings import periods
from app.settings import get_settings
from app.tables.accounts import User

# Roles whose holder is never pseudonymised by the job (counted instead): every role but a learner's
# or a trainer's, which are what the evidence is about.
EVIDENCE_ROLES = ("learner", "trainer")
PROTECTED = ("EXISTS (SELECT 1 FROM role_assignment g WHERE g.\"user\" = app_user.id "
             "AND g.role NOT IN ('learner', 'trainer'))")
WARNING_CATEGORY = "retention-warning"
# Accounts warned in one night at most. A first run on a large existing base (a quarter of a million
# accounts unused for two years) spreads its warnings over the next nights instead of sending them all
# at once — what a mail server's sending limits ask, and the job's time stays bounded (rewriting
# 250,000 rows of a table with 17 indexes took minutes). Nobody is pseudonymised without a warning
# given the warning's days before, so the spread only delays the end of the catch-up.
WARN_PER_RUN = 20_000
BODY_ERASED = "(Contenu effacé : sa durée de conservation est écoulée.)"
PSEUDONYM_DOMAIN = "compte.invalid"

# What the report counts, in the order /ops and the settings page show it.
REPORT_LABELS = {
    "cancelled": "avertissements annulés par une connexion",
    "warned": "comptes avertis",
    "mailed": "courriels d'avertissement",
    "pseudonymised": "comptes pseudonymisés",
    "protected": "comptes de gestion inactifs (jamais pseudonymisés automatiquement)",
    "attendance_deleted": "présences supprimées",
    "records_deleted": "enregistrements d'émargement (signatures) supprimés",
    "certificates_deleted": "attestations et certificats supprimés",
    "sheets_cleared": "feuilles d'émargement signées effacées",
    "drafts_deleted": "brouillons et demandes non confirmées supprimés",
    "requests_deleted": "demandes d'inscription supprimées",
    "imports_deleted": "fichiers d'import jamais importés supprimés",
    "import_rows_deleted": "lignes de rapports d'import supprimées",
    "attachments_deleted": "pièces jointes de courriels supprimées",
    "mail_bodies_emptied": "contenus de courriels effacés",
}


def _at(moment: datetime):
    """An instant as the database compares it (SQLite: its UTC text form)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if db.is_sqlite() else moment


def _day(value: date):
    return value.isoformat() if db.is_sqlite() else value


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


async def _count(sql: str, *args) -> int:
    """Run an UPDATE or DELETE and count the rows it changed (PostgreSQL: in the statement itself)."""
    if db.is_sqlite():
        return len(await _raw(sql + " RETURNING 1", *args))
    rows = await _raw(f"WITH changed AS ({sql} RETURNING 1) SELECT count(*) AS n FROM changed", *args)
    return rows[0]["n"]


async def _raw(sql: str, *args):
    return await User.raw(sql, *args)


def _ended_before(alias: str, plain: date, fse: date) -> tuple[str, list]:
    """Sessions (``alias``) ended before ``plain``, or before ``fse`` when co-financed by the FSE."""
    return (f"(({alias}.fse_cofinanced AND {alias}.end_date < {{}}) OR "
            f"(NOT {alias}.fse_cofinanced AND {alias}.end_date < {{}}))"), [_day(fse), _day(plain)]


async def warn(t: datetime, p: dict) -> dict:
    inactive_cut = months_before(t, p["retention_inactive_months"])
    warn_cut = inactive_cut + timedelta(days=p["retention_warning_days"])
    deadline = t + timedelta(days=p["retention_warning_days"])
    async with db.transaction():
        cancelled = await _count(
            "UPDATE app_user SET retention_warned_at = NULL WHERE retention_warned_at IS NOT NULL "
            "AND pseudonymised_at IS NULL AND last_access > retention_warned_at")
        # The longest unused first, at most WARN_PER_RUN a night (the rest the next nights).
        warned = await _count(
            "UPDATE app_user SET retention_warned_at = {} WHERE id IN (SELECT id FROM app_user "
            "WHERE retention_warned_at IS NULL AND deactivated_at IS NULL AND pseudonymised_at IS NULL "
            f"AND COALESCE(last_access, created_at) < {{}} AND NOT {PROTECTED} "
            "ORDER BY COALESCE(last_access, created_at), id LIMIT {})",
            _at(t), _at(warn_cut), WARN_PER_RUN)
        mailed = 0
        if warned:
            mailed = await _queue_warnings(t, deadline)
    return {"cancelled": cancelled, "warned": warned, "mailed": mailed}


async def _queue_warnings(t: datetime, deadline: datetime) -> int:
    """The warnings of the accounts warned at ``t``, in one INSERT … SELECT into the outbox (a
    fictitious address is recorded as not sent, as the outbox does)."""
    login = get_settings().base_url + "/connexion"
    subject = "Votre compte Tremplin sera pseudonymisé faute de connexion"
    body = (",\n\nvous ne vous êtes pas connecté(e) à Tremplin depuis longtemps. Sans connexion de votre part "
            f"d'ici le {date_fr(deadline)}, votre compte sera désactivé et vos données personnelles (nom, courriel, "
            "matricule, identifiant) remplacées par un pseudonyme. Vos attestations et émargements restent conservés, "
            "sans vos coordonnées, le temps de leur durée légale de conservation.\n\n"
            f"Pour garder votre compte, il suffit de vous connecter : {login}\n\nTremplin")
    fictitious = "email LIKE '%.fictif@%'"
    return await _count(
        "INSERT INTO mail (recipients, intended_recipients, subject, body_text, body_html, secret, status, tries, "
        "last_error, is_test, category, group_key, created_at) "
        f"SELECT CASE WHEN {fictitious} THEN '' ELSE email END, email, {{}}, "
        "{} || TRIM(first_name || ' ' || last_name) || {}, '', '', "
        f"CASE WHEN {fictitious} THEN 'failed' ELSE 'queued' END, 0, "
        f"CASE WHEN {fictitious} THEN {{}} ELSE '' END, FALSE, {{}}, '', {{}} "
        "FROM app_user WHERE retention_warned_at = {} AND email <> ''",
        subject, "Bonjour ", body, "Adresse fictive : message non envoyé.", WARNING_CATEGORY, _at(t), _at(t))


async def relabel_audit(accounts: str, *args) -> None:
    """The audit rows by or about these accounts (``accounts``: a subquery of ``id, label``) show
    ``label`` instead of the name they had; their search text follows."""
    for column, match in (("target_label", "audit_event.target_kind = 'user' AND audit_event.target_id = a.id"),
                          ("actor_label", "audit_event.actor = a.id")):
        await _raw(f"UPDATE audit_event SET {column} = a.label, search_text = lower(a.label) FROM {accounts} a "
                   f"WHERE {match}", *args)


async def pseudonymise_where(t: datetime, where: str, args: list, reason: str) -> int:
    """Pseudonymise the accounts ``where`` (SQL on app_user, ``{}`` placeholders for ``args``) selects,
    at ``t``: one UPDATE, their management roles removed, each recorded « Compte pseudonymisé » with
    ``reason``. Returns how many. Used by the daily job and by an erasure request (one account)."""
    pseudonym = "'pseudonyme#' || id"
    changed = await _raw(
        "UPDATE app_user SET first_name = '', last_name = 'Pseudonyme ' || id, "
        f"username = {pseudonym}, email = 'pseudonyme-' || id || '.fictif@{PSEUDONYM_DOMAIN}', matricule = '', "
        f"search_text = {pseudonym}, last_name_key = 'pseudonyme ' || id, first_name_key = '', "
        "password_hash = '!', credentials_version = credentials_version + 1, force_password_change = FALSE, "
        "deactivated_at = COALESCE(deactivated_at, {}), pseudonymised_at = {} "
        f"WHERE {where} RETURNING id", _at(t), _at(t), *args)
    if changed:
        # These accounts, by their ids (not by the instant: another pseudonymisation may share it).
        mine, ids = _id_list([r["id"] for r in changed])
        await _raw("DELETE FROM role_assignment WHERE role NOT IN ('learner', 'trainer') AND \"user\" IN ("
                   + mine + ")", ids)
        # A session not started yet: they will not come — out of its lists, convocations and reminders.
        await _raw("UPDATE enrolment SET active = FALSE, ended_at = {} WHERE active AND \"user\" IN (" + mine
                   + ") AND session IN (SELECT id FROM training_session WHERE start_date > {})",
                   _at(t), ids, _day(t.date()))
        # The audit trail's older rows name them too: their labels become the pseudonym (else the
        # trail, by the account's id, would undo the pseudonymisation).
        accounts = f"SELECT id, username AS label FROM app_user WHERE id IN ({mine})"
        await relabel_audit(f"({accounts})", ids)
        await audit.record_selected("account.pseudonymised", "user", accounts, ids, details={"reason": reason})
    return len(changed)


def _id_list(ids: list[int]) -> tuple[str, object]:
    """A subquery of these ids, for ``… IN (<it>)``, and its one argument (a single parameter, however many)."""
    if db.is_sqlite():
        return "SELECT value FROM json_each({})", json.dumps(ids)
    return "SELECT unnest(CAST({} AS INTEGER[]))", ids


async def pseudonymise(t: datetime, p: dict) -> dict:
    inactive_cut = months_before(t, p["retention_inactive_months"])
    warned_cut = t - timedelta(days=p["retention_warning_days"])
    # An active account: warned long enough ago, and never one holding a management role. A deactivated
    # one (a manager's « Supprimer » of an account with training records): once deactivated that long,
    # whatever its roles — nobody to warn, it cannot log in.
    due = ("pseudonymised_at IS NULL AND COALESCE(last_access, created_at) < {} AND ("
           "(deactivated_at IS NULL AND retention_warned_at IS NOT NULL AND retention_warned_at <= {} "
           f"AND NOT {PROTECTED}) OR (deactivated_at IS NOT NULL AND deactivated_at < {{}}))")
    due_args = [_at(inactive_cut), _at(warned_cut), _at(inactive_cut)]
    async with db.transaction():
        protected = (await _raw(
            "SELECT count(*) AS n FROM app_user WHERE pseudonymised_at IS NULL AND deactivated_at IS NULL "
            f"AND COALESCE(last_access, created_at) < {{}} AND {PROTECTED}", _at(inactive_cut)))[0]["n"]
        done = await pseudonymise_where(t, due, due_args, "inactivité")
    return {"pseudonymised": done, "protected": protected}


async def delete_evidence(t: datetime, p: dict) -> dict:
    today = t.date()
    evidence = years_before(today, p["retention_evidence_years"])
    fse = years_before(today, max(p["retention_evidence_years"], p["retention_fse_years"]))
    ended, ended_args = _ended_before("s", evidence, fse)
    held = ("SELECT e.id FROM enrolment e JOIN training_session s ON s.id = e.session "
            f"JOIN app_user u ON u.id = e.\"user\" WHERE u.pseudonymised_at IS NOT NULL AND {ended}")
    report = {}
    async with db.transaction():
        report["attendance_deleted"] = await _count(f"DELETE FROM attendance WHERE enrolment IN ({held})", *ended_args)
        report["records_deleted"] = await _count(f"DELETE FROM attendance_record WHERE enrolment IN ({held})",
                                                 *ended_args)
        report["certificates_deleted"] = await _count(f"DELETE FROM certificate WHERE enrolment IN ({held})",
                                                      *ended_args)
    supporting = years_before(today, p["retention_supporting_years"])
    fse_sheets = years_before(today, max(p["retention_supporting_years"], p["retention_fse_years"]))
    ended, ended_args = _ended_before("s", supporting, fse_sheets)
    report["sheets_cleared"] = await _count(
        "UPDATE slot_closure SET snapshot = {}, countersignature = '', file = NULL "
        "WHERE (CAST(snapshot AS TEXT) <> {} OR countersignature <> '' OR file IS NOT NULL) AND slot IN ("
        f"SELECT sl.id FROM session_slot sl JOIN training_session s ON s.id = sl.session WHERE {ended})",
        "{}", "{}", *ended_args)
    return report


async def delete_registrations(t: datetime, p: dict) -> dict:
    unconfirmed = "status IN ('draft', 'awaiting_confirmation')"
    drafts = await _count(f"DELETE FROM registration_request WHERE {unconfirmed} AND created_at < {{}}",
                          _at(t - timedelta(days=p["retention_drafts_days"])))
    today = t.date()
    years = p["retention_requests_years"]
    ended, ended_args = _ended_before("s", years_before(today, years),
                                      years_before(today, max(years, p["retention_fse_years"])))
    requests = await _count(
        f"DELETE FROM registration_request WHERE NOT {unconfirmed} AND ("
        f"EXISTS (SELECT 1 FROM training_session s WHERE s.id = registration_request.session AND {ended}) "
        "OR (session IS NULL AND created_at < {}))",
        *ended_args, _at(datetime.combine(years_before(today, years), datetime.min.time(), tzinfo=timezone.utc)))
    return {"drafts_deleted": drafts, "requests_deleted": requests}


async def purge_imports(t: datetime, p: dict) -> dict:
    """An account import's rows hold the file's names, addresses (and, until imported, passwords): a
    file never imported goes whole after the drafts' period; an import's report loses its rows after
    its own (the batch and its counts stay)."""
    abandoned = await _count(
        "DELETE FROM import_batch WHERE status IN ('analysing', 'refused', 'preview', 'failed') "
        "AND COALESCE(finished_at, created_at) < {}",
        _at(t - timedelta(days=p["retention_drafts_days"])))
    rows = await _count(
        "DELETE FROM import_row WHERE batch IN (SELECT id FROM import_batch WHERE status = 'done' "
        "AND finished_at < {})", _at(months_before(t, p["retention_import_months"])))
    return {"imports_deleted": abandoned, "import_rows_deleted": rows}


async def purge_mails(t: datetime, p: dict) -> dict:
    attachments = await _count(
        "DELETE FROM mail_attachment WHERE mail IN (SELECT id FROM mail WHERE created_at < {})",
        _at(months_before(t, p["retention_documents_months"])))
    bodies = await _count(
        "UPDATE mail SET body_text = {}, body_html = '', secret = '' WHERE created_at < {} "
        "AND status IN ('sent', 'failed', 'cancelled') AND body_text <> {}",
        BODY_ERASED, _at(t - timedelta(days=p["retention_mail_body_days"])), BODY_ERASED)
    return {"attachments_deleted": attachments, "mail_bodies_emptied": bodies}


async def run(today: datetime | None = None) -> dict:
    """Every step, in order; the report counts what each changed (all zero on a second run)."""
    t = today or now()
    p = await periods()
    report: dict = {}
    for step in (warn, pseudonymise, delete_evidence, delete_registrations, purge_imports, purge_mails):
        report.update(await step(t, p))
    return {key: report.get(key, 0) for key in REPORT_LABELS}


def describe(report: dict) -> list[tuple[str, int]]:
    """The report in French, in order: (label, count)."""
    return [(label, int(report.get(key) or 0)) for key, label in REPORT_LABELS.items()]
