"""The rows of an account import (SPEC A3): the preview, then the report (page and Excel)."""

from __future__ import annotations

from app.datatable import Col, DataTable, Filter
from app.lists import register
from app.services.accounts import fictitious_email
from app.services.imports import DECISION_LABELS
from app.tables.cohorts import Cohort
from app.tables.imports import ImportRow

STATUS_LABELS = {"ok": "Prête", "problem": "À décider", "error": "Erreur"}
OUTCOME_LABELS = {"created": "Créé", "updated": "Mis à jour", "skipped": "Ignoré", "failed": "Échec", "": ""}
# "suffix": batches previewed before every creation took the next free suffix by itself.
DECISION_TEXT = {**DECISION_LABELS, "suffix": DECISION_LABELS["create"]}
NEW_COHORT = "cohorte créée"


def cohort_text(row: dict) -> str:
    return ", ".join(f"{c} ({NEW_COHORT})" if c in row.get("new_cohorts", ()) else c
                     for c in row["cohorts"].split("\n") if c)


def account_email(row: dict) -> str:
    """The address the line's account gets: the file's, or for a new account without one the
    `<username>.fictif@…` address it is created with (issue 20 point 11)."""
    if row["email"] or not row["username"]:
        return row["email"]
    if row["decision"] in ("create", "suffix") and row["outcome"] in ("", "created"):
        return fictitious_email(row["username"])
    return ""


async def mark_new_cohorts(rows: list[dict]) -> list[dict]:
    """On a preview, the cohort names the establishment does not have yet: the import creates them
    (one query a page). Every row: the address its account gets (account_email)."""
    for r in rows:
        r["account_email"] = account_email(r)
    previews = [r for r in rows if r["batch_status"] == "preview" and r["cohorts"]]
    names = sorted({c for r in previews for c in r["cohorts"].split("\n") if c})
    if names:
        establishments = sorted({r["establishment"] for r in previews})
        known = {(c["establishment"], c["name"]) for c in await Cohort.select(Cohort.establishment, Cohort.name).where(
            Cohort.establishment.is_in(establishments) & Cohort.name.is_in(names))}
        for r in previews:
            r["new_cohorts"] = {c for c in r["cohorts"].split("\n") if c and (r["establishment"], c) not in known}
    return rows


IMPORT_ROWS = register(
    DataTable(
        name="import_rows",
        table=ImportRow,
        select=(
            ImportRow.id, ImportRow.line, ImportRow.first_name, ImportRow.last_name, ImportRow.email,
            ImportRow.matricule, ImportRow.username, ImportRow.cohorts, ImportRow.status, ImportRow.problems,
            ImportRow.decision, ImportRow.allowed, ImportRow.outcome, ImportRow.outcome_message, ImportRow.batch,
            ImportRow.batch.status.as_alias("batch_status"), ImportRow.batch.establishment.as_alias("establishment"),
        ),
        columns=(
            Col("line", "Ligne", ImportRow.line),
            Col("last_name", "Prénom / Nom", ImportRow.last_name, export=lambda r: f"{r['first_name']} {r['last_name']}"),
            Col("email", "Adresse de courriel", ImportRow.email, export=account_email),
            Col("matricule", "Matricule", ImportRow.matricule),
            Col("username", "Nom d'utilisateur", ImportRow.username),
            Col("cohorts", "Cohortes", export=cohort_text),
            Col("status", "État", ImportRow.status, export=lambda r: STATUS_LABELS.get(r["status"], r["status"])),
            Col("problems", "Remarques", export=lambda r: " ".join(r["problems"].split("\n"))),
            Col("decision", "Décision", export=lambda r: DECISION_TEXT.get(r["decision"], r["decision"])),
            Col("outcome", "Résultat", ImportRow.outcome,
                export=lambda r: " ".join(x for x in (OUTCOME_LABELS.get(r["outcome"], r["outcome"]), r["outcome_message"]) if x)),
        ),
        filters=(
            Filter("status", "État", lambda v: ImportRow.status == v if v in STATUS_LABELS else None, kind="select",
                   options=list(STATUS_LABELS.items())),
            Filter("outcome", "Résultat", lambda v: ImportRow.outcome == v if v in OUTCOME_LABELS else None,
                   kind="select", options=[(k, v) for k, v in OUTCOME_LABELS.items() if k]),
        ),
        default_sort="line",
        scope_column=ImportRow.batch.establishment,
        export_filename="rapport_import",
        enrich=mark_new_cohorts,
    )
)
