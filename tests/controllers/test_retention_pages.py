"""« Conservation des données » and « Registre des traitements » (issue 25): administrators only; the
periods edited with French messages for bad input (no JavaScript: a plain form, CSRF checked), each
change in the audit trail; the register reads the periods saved; the last daily run's report shown."""

import json
from datetime import timedelta

from app.dates import now, today
from app.services.retention import settings as retention
from app.tables.audit import AuditEvent
from app.tables.catalogue import TrainingSession
from app.tables.jobs import JobRun
from tests import factories
from tests.helpers import login, post_form, text


def _form(**changes) -> dict:
    values = {p.key: p.default for p in retention.PERIODS}
    values.update(changes)
    return values


async def test_only_administrators_reach_the_pages(client):
    await login(client, "alp001.get")
    # (The POST below changes something: refused, nothing saved.)
    for page in ("/admin/donnees/conservation", "/admin/donnees/registre"):
        assert (await client.get(page)).status_code == 403
    assert (await post_form(client, "/admin/donnees/conservation", _form(retention_inactive_months=12))).status_code == 403
    assert (await retention.periods())["retention_inactive_months"] == 24


async def test_periods_are_edited_checked_and_recorded(client):
    await login(client, "admin")
    page = text((await client.get("/admin/donnees/conservation")).text)
    assert "Compte sans connexion, pseudonymisé après (en mois)" in page and "Journal d'audit" in page
    assert "Aucun passage pour l'instant" in page
    # Without its CSRF token a POST is refused.
    refused = await client.post("/admin/donnees/conservation", data=_form())
    assert refused.status_code == 403
    bad = await post_form(client, "/admin/donnees/conservation", _form(
        retention_inactive_months="abc", retention_mail_body_days="2", retention_drafts_days=""))
    assert bad.status_code == 422
    shown = text(bad.text)
    assert ("« Compte sans connexion, pseudonymisé après » : indiquez un nombre entier de mois entre 6 et 120."
            in shown)
    assert "« Contenu des courriels envoyés » : indiquez un nombre entier de jours entre 7 et 3650." in shown
    assert "« Brouillons d'inscription et demandes jamais confirmées » : indiquez une durée." in shown
    assert (await retention.periods())["retention_inactive_months"] == 24  # nothing saved
    incoherent = await post_form(client, "/admin/donnees/conservation", _form(retention_evidence_years=8))
    assert incoherent.status_code == 422 and "au moins aussi longtemps" in text(incoherent.text)
    # Below what the law asks: refused.
    short = await post_form(client, "/admin/donnees/conservation", _form(retention_evidence_years=1))
    assert short.status_code == 422 and "entre 3 et 30" in text(short.text)

    start = (await AuditEvent.select(AuditEvent.id).order_by(AuditEvent.id, ascending=False).first() or {"id": 0})["id"]
    saved = await post_form(client, "/admin/donnees/conservation", _form(retention_inactive_months=18,
                                                                         retention_fse_years=12))
    assert saved.status_code == 303
    assert (await retention.periods())["retention_inactive_months"] == 18
    changed = await AuditEvent.select(AuditEvent.target_label).where(
        (AuditEvent.id > start) & (AuditEvent.action == "settings.changed"))
    assert sorted(r["target_label"] for r in changed) == ["retention_fse_years", "retention_inactive_months"]

    register = text((await client.get("/admin/donnees/registre")).text)
    for name in ("Comptes et gestion de la formation", "Inscription en ligne", "Émargement électronique",
                 "Attestations et certificats de réalisation", "Enquêtes de satisfaction", "Journal d'audit",
                 "Courriels"):
        assert name in register
    assert "sans connexion pendant 18 mois" in register and "12 ans pour une session cofinancée par le FSE" in register
    assert "Finalité" in register and "Base légale" in register and "Qui y accède" in register
    assert "<script" not in (await client.get("/admin/donnees/registre")).text.split("</header>", 1)[1]


async def test_the_last_run_report_is_shown(client):
    await JobRun.insert(JobRun(kind="apply_retention", job_key="retention:2026-12-06", status="succeeded",
                               finished_at=now(), result=json.dumps({"warned": 7, "pseudonymised": 3})))
    await login(client, "admin")
    page = text((await client.get("/admin/donnees/conservation")).text)
    assert "7 comptes avertis" in page and "3 comptes pseudonymisés" in page


async def test_a_session_is_declared_co_financed_by_the_fse_on_its_settings(client):
    session = await factories.session_with_learners(await factories.establishment(), 0, slots=0)
    await login(client, "admin")
    form = text((await client.get(f"/sessions/{session.id}/parametres")).text)
    assert "Cofinancée par le FSE" in form
    start = today() + timedelta(days=20)
    saved = await post_form(client, f"/sessions/{session.id}/parametres", {
        "start_date": start.isoformat(), "end_date": start.isoformat(), "full_name": "Session FSE",
        "short_name": "FSE", "visible": "1", "code": "26F99S1", "fse_cofinanced": "1"})
    assert saved.status_code == 303, text(saved.text)[:500]
    row = await TrainingSession.select(TrainingSession.fse_cofinanced).where(TrainingSession.id == session.id).first()
    assert row["fse_cofinanced"] is True
