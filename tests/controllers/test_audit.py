"""The audit trail (issue 25): each sensitive action leaves who, when, what, on what and from where;
administrators read it on « Journal d'audit » (filters, export), nobody else; it is purged after its
retention. The attendance correction and the certificate revocation are checked in their own tests
(test_signing_closing.py, test_certificates.py)."""

import io
import json
from datetime import timedelta

import polars as pl

from app.dates import now
from app.jobs.worker import purge_audit_trail
from app.services import audit
from app.services.retention.settings import AUDIT_MONTHS
from app.services.accounts import is_fictitious
from app.services.outbox import get_setting, set_setting
from app.tables.accounts import RoleAssignment, User
from app.tables.audit import AuditEvent
from app.tables.org import Establishment
from tests.helpers import login, post_form, text


async def _last_id() -> int:
    """Where a test's actions start (loading the demo data records its settings, by « Système »)."""
    last = await AuditEvent.select(AuditEvent.id).order_by(AuditEvent.id, ascending=False).first()
    return last["id"] if last else 0


async def _trail(after: int) -> list[tuple]:
    rows = await AuditEvent.select().where(AuditEvent.id > after).order_by(AuditEvent.id)
    return [(r["actor_label"], r["action"], r["target_label"], json.loads(r["details"])) for r in rows]


async def test_account_and_role_actions_are_recorded_with_who_and_from_where(client):
    target = await User.select().where(User.username.like("alp001.%.%")).first()
    alp001 = await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first()
    start = await _last_id()
    await login(client, "alp001.get")
    base = f"/utilisateurs/{target['id']}"
    # An edit records which fields changed, not their values.
    assert (await post_form(client, f"{base}/modifier", {
        "username": target["username"], "first_name": "Élise", "last_name": target["last_name"],
        "email": target["email"], "establishment": target["establishment"], "status": target["status"],
        "matricule": target["matricule"]})).status_code == 303
    # Saved again unchanged: nothing changed, nothing recorded.
    await post_form(client, f"{base}/modifier", {
        "username": target["username"], "first_name": "Élise", "last_name": target["last_name"],
        "email": target["email"], "establishment": target["establishment"], "status": target["status"],
        "matricule": target["matricule"]})
    await post_form(client, f"{base}/suspendre")
    await post_form(client, f"{base}/reactiver")
    await post_form(client, f"{base}/mot-de-passe")
    await login(client, "admin")
    assert (await post_form(client, "/roles/", {"role": "get", "username": target["username"],
                                                 "establishment": alp001["id"]})).status_code == 303
    assignment = await RoleAssignment.select(RoleAssignment.id).where(
        (RoleAssignment.user == target["id"]) & (RoleAssignment.role == "get")).first()
    assert (await post_form(client, f"/roles/{assignment['id']}/retirer")).status_code == 303
    name = target["username"]
    assert await _trail(start) == [
        ("alp001.get", "account.edited", name, {"fields": ["first_name"]}),
        ("alp001.get", "account.suspended", name, {}),
        ("alp001.get", "account.reactivated", name, {}),
        ("alp001.get", "account.password_reset", name, {"mailed": not is_fictitious(target["email"])}),
        ("admin", "role.granted", name, {"role": "get", "delegation": None, "establishment": alp001["id"]}),
        ("admin", "role.revoked", name, {"role": "get", "delegation": None, "establishment": alp001["id"]}),
    ]
    rows = await AuditEvent.select(AuditEvent.actor, AuditEvent.ip, AuditEvent.target_id, AuditEvent.at).where(
        AuditEvent.id > start)
    assert {r["target_id"] for r in rows} == {target["id"]} and all(r["actor"] and r["ip"] for r in rows)
    assert all(abs((now() - r["at"]).total_seconds()) < 120 for r in rows)


async def test_deleting_an_account_and_changing_settings_and_exporting_are_recorded(client):
    await set_setting("test_mode", "0")  # the form's value: saving it again changes nothing
    start = await _last_id()
    await login(client, "admin")
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    fresh = await post_form(client, f"/etablissements/{alp001}/comptes/nouveau", {
        "username": "alp001.e.audit", "first_name": "Essai", "last_name": "Audit", "email": "e.audit@example.org",
        "establishment": alp001, "status": "fph_agent", "password": "Anfh_2025!", "force_password_change": "1"})
    assert fresh.status_code == 303, text(fresh.text)[:500]
    account = await User.select(User.id).where(User.username == "alp001.e.audit").first()
    assert (await post_form(client, f"/utilisateurs/{account['id']}/supprimer")).status_code == 303
    settings = await client.get("/gestion-inscriptions/reglages")
    assert settings.status_code == 200
    form = {"operator_name": "Organisme Audité", "disability_email": await get_setting("disability_email"),
            "operator_copy_email": await get_setting("operator_copy_email"), "cgv_text": await get_setting("cgv_text")}
    assert (await post_form(client, "/gestion-inscriptions/reglages", form)).status_code == 303
    export = await client.get("/roles?role=admin&export=csv")
    assert export.status_code == 200
    trail = await _trail(start)
    assert [t[:3] for t in trail] == [
        ("admin", "account.created", "alp001.e.audit"),
        ("admin", "account.deleted", "alp001.e.audit"),
        ("admin", "settings.changed", "operator_name"),
        ("admin", "data.exported", "roles"),
    ]
    assert trail[-1][3] == {"format": "csv", "rows": 1, "filters": {"role": "admin"}}


async def test_the_journal_is_for_administrators_filterable_and_exportable(client, new_client):
    with audit.acting_as(audit.Actor(None, "ged.alp", "192.0.2.7")):
        await audit.record("role.granted", "user", 1, "alp001.v.blondel", {"role": "get"})
    with audit.acting_as(audit.Actor(None, "admin", "192.0.2.8")):
        await audit.record("settings.changed", "setting", None, "cgv_text")
    for username in ("alp001.get", "ged.alp", "inscriptions"):
        async with new_client() as other:
            await login(other, username)
            assert (await other.get("/admin/journal")).status_code == 403
    await login(client, "admin")
    page = text((await client.get("/admin/journal")).text)
    assert "Journal d'audit" in page and "Conservées 36 mois" in page
    assert "ged.alp Rôle attribué alp001.v.blondel rôle GET — gestionnaire d'établissement 192.0.2.7" in page
    assert "admin Paramètre modifié cgv_text" in page
    only = text((await client.get("/admin/journal?action=role.granted")).text)
    assert "Rôle attribué" in only and "cgv_text" not in only
    assert "cgv_text" not in text((await client.get("/admin/journal?q=blondel")).text)
    export = await client.get("/admin/journal?export=xlsx")
    frame = pl.read_excel(io.BytesIO(export.content))
    assert set(frame["Action"]) >= {"Rôle attribué", "Paramètre modifié"} and "192.0.2.7" in set(frame["Adresse IP"])
    # The export itself is in the trail.
    assert await AuditEvent.exists().where((AuditEvent.action == "data.exported") & (AuditEvent.target_label == "audit"))


async def test_the_trail_is_purged_after_its_retention(client):
    await AuditEvent.delete(force=True)
    await audit.record("settings.changed", "setting", None, "old")
    await audit.record("settings.changed", "setting", None, "recent")
    await AuditEvent.update({AuditEvent.at: now() - timedelta(days=37 * 31)}).where(AuditEvent.target_label == "old")
    await AuditEvent.update({AuditEvent.at: now() - timedelta(days=34 * 31)}).where(AuditEvent.target_label == "recent")
    assert await purge_audit_trail({}) == 1  # the daily job, with the default period (36 months)
    assert [r["target_label"] for r in await AuditEvent.select(AuditEvent.target_label)] == ["recent"]
    # A shorter retention set by the administrator applies (the change is itself recorded, now).
    with audit.acting_as(audit.Actor(None, "admin", "")):
        await set_setting(AUDIT_MONTHS, "12")
    assert await purge_audit_trail({}) == 1
    assert [r["target_label"] for r in await AuditEvent.select(AuditEvent.target_label)] == [AUDIT_MONTHS]
