"""SPEC A3 end to end on the server side: upload -> preview -> decisions -> job -> report."""

import io

import polars as pl
import pytest

from app.services import imports
from app.tables.accounts import RoleAssignment, User
from app.tables.cohorts import Cohort, CohortMember
from app.tables.imports import ImportBatch, ImportRow
from app.tables.org import Establishment
from tests.helpers import login, post_form, text

HEADER = "firstname;lastname;password;email;profile_field_matricule;cohort1"


async def _alp001():
    return (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]


async def _upload(client, establishment_id, lines, filename="comptes.csv", encoding="utf-8"):
    content = ("\r\n".join(lines) + "\r\n").encode(encoding)
    from tests.helpers import csrf_token

    token = await csrf_token(client)
    return await client.post(
        f"/etablissements/{establishment_id}/import/",
        files={"file": (filename, content, "text/csv")},
        data={"_csrf_token": token},
    )


async def _batch_rows(batch_id):
    return {r["line"]: r for r in await ImportRow.select().where(ImportRow.batch == batch_id)}


@pytest.mark.smoke
async def test_import_with_problems_decisions_and_report(client, smtp, run_jobs):
    alp001 = await _alp001()
    existing = await User.select(User.id, User.email, User.username).where(User.username.like("alp001.%.%")).first()
    foreign = await User.select(User.email).where(User.username.like("dam001.%.%")).first()
    await login(client, "alp001.get")
    lines = [
        HEADER,
        "Valentin;Blondel;Anfh_2025!;v.blondel@example.org;812;Cohorte_Ex25",   # 2 ok, own password
        "Béa;Trice;;bea.trice@example.org;1234;Cohorte_Ex25",                    # 3 ok, password generated and mailed
        "Luc;Sansmail;Luc-2025!;;99;",                                           # 4 ok, fictitious e-mail
        ";Sansprenom;;x@example.org;5;",                                         # 5 error: first name missing
        "Jean;Mauvais;;pas-un-mail;6;",                                          # 6 error: bad e-mail
        "Anne;Faible;faible;anne@example.org;7;",                                # 7 weak password
        f"Paul;Existant;;{existing['email']};8;",                                # 8 existing account, in scope
        "Valentin;Blondel;;autre@example.org;9;",                                # 9 homonym of line 2: suffixed
        f"Eve;Ailleurs;;{foreign['email']};10;",                                 # 10 existing, out of scope
        ";;;;;",
    ]
    response = await _upload(client, alp001, lines, encoding="windows-1252")
    assert response.status_code == 303, text(response.text)
    batch_id = int(response.headers["location"].rsplit("/", 1)[1])
    rows = await _batch_rows(batch_id)
    assert sorted(rows) == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert {line: rows[line]["status"] for line in rows} == {
        2: "ok", 3: "ok", 4: "ok", 5: "error", 6: "error", 7: "problem", 8: "problem", 9: "ok", 10: "error"}
    assert rows[2]["username"] == "alp001.v.blondel" and rows[2]["matricule"] == "000812"
    assert rows[9]["username"] == "alp001.v.blondel2" and rows[9]["decision"] == "create"
    assert "Homonyme : alp001.v.blondel est déjà pris" in rows[9]["problems"]
    assert "Un compte existe déjà avec la même adresse de courriel" in rows[8]["problems"]
    assert rows[8]["allowed"] == "skip,update" and rows[8]["username"] == existing["username"]
    assert rows[10]["allowed"] == "skip" and "hors de votre périmètre" in rows[10]["problems"]
    page = text((await client.get(f"/imports/{batch_id}?per_page=50")).text)
    assert "4 prête(s)" in page and "2 à décider" in page and "3 en erreur" in page
    assert "Prénom manquant." in page and "Adresse de courriel invalide : pas-un-mail." in page

    # Decisions: create the weak one (password generated), update the existing.
    for line, decision in ((7, "create"), (8, "update")):
        response = await post_form(client, f"/imports/{batch_id}/lignes/{rows[line]['id']}", {"decision": decision}, htmx=True)
        assert response.status_code == 200 and "Enregistré" in response.text
    # A decision the row does not offer is refused.
    response = await post_form(client, f"/imports/{batch_id}/lignes/{rows[5]['id']}", {"decision": "create"})
    assert response.status_code == 400
    assert (await ImportRow.select(ImportRow.decision).where(ImportRow.id == rows[5]["id"]).first())["decision"] == "skip"

    response = await post_form(client, f"/imports/{batch_id}/confirmer")
    assert response.status_code == 303
    again = await post_form(client, f"/imports/{batch_id}/confirmer")  # double submit
    assert again.status_code == 303
    progress_page = text((await client.get(f"/imports/{batch_id}")).text)
    assert "Import des comptes" in progress_page
    await run_jobs()

    batch = await ImportBatch.select().where(ImportBatch.id == batch_id).first()
    assert (batch["status"], batch["created_count"], batch["updated_count"], batch["skipped_count"], batch["failed_count"]) == (
        "done", 5, 1, 3, 0)
    users = {u["username"]: u for u in await User.select().where(User.username.like("alp001.%"))}
    assert {"alp001.v.blondel", "alp001.b.trice", "alp001.l.sansmail", "alp001.a.faible", "alp001.v.blondel2"} <= set(users)
    assert users["alp001.l.sansmail"]["email"] == "alp001.l.sansmail.fictif@tremplin.local"
    assert all(users[u]["force_password_change"] for u in ("alp001.v.blondel", "alp001.b.trice"))
    assert (await User.select(User.first_name).where(User.id == existing["id"]).first())["first_name"] == "Paul"
    # cohort1: the establishment's cohort, created once, with both members.
    cohort = await Cohort.select().where((Cohort.establishment == alp001) & (Cohort.name == "Cohorte_Ex25")).first()
    members = await CohortMember.select(CohortMember.user.username.as_alias("u")).where(CohortMember.cohort == cohort["id"])
    assert sorted(m["u"] for m in members) == ["alp001.b.trice", "alp001.v.blondel"]
    # Learners of the establishment.
    assert await RoleAssignment.count().where(
        (RoleAssignment.role == "learner") & RoleAssignment.user.username.is_in(list(users))) >= 5
    # Mails: generated passwords only (lines 3 and 9 had none, line 7's weak one was replaced).
    await run_jobs()
    mailed = sorted(r[0] for r, _ in smtp.messages)
    assert mailed == ["anne@example.org", "autre@example.org", "bea.trice@example.org"]

    # The report: on the page, and as Excel with every row.
    report = text((await client.get(f"/imports/{batch_id}")).text)
    assert "Importation terminée : 5 créé(s), 1 mis à jour, 3 ignoré(s), 0 en échec." in report
    xlsx = await client.get(f"/imports/{batch_id}?export=xlsx")
    frame = pl.read_excel(io.BytesIO(xlsx.content))
    assert frame.height == 9 and "Résultat" in frame.columns
    assert sorted(frame["Résultat"].to_list()) == sorted(["Créé"] * 5 + ["Mis à jour"] + ["Ignoré"] * 3)

    # The CSV password works, then the change is forced, and the cheap hash is replaced at login.
    await post_form(client, "/deconnexion")
    await login(client, "alp001.v.blondel", "Anfh_2025!")
    assert (await client.get("/")).headers["location"] == "/mot-de-passe"
    stored = (await User.select(User.password_hash).where(User.username == "alp001.v.blondel").first())["password_hash"]
    assert "m=256," not in stored


async def test_bad_file_writes_nothing_and_says_why(client):
    alp001 = await _alp001()
    await login(client, "alp001.get")
    response = await _upload(client, alp001, ["prenom;nom;password;email;profile_field_matricule", "a;b;c;d;e"])
    assert response.status_code == 422
    assert "colonne(s) manquante(s) : firstname, lastname" in text(response.text)
    assert await ImportBatch.count() == 0 and await ImportRow.count() == 0
    token = client.cookies.get("csrftoken")
    response = await client.post(f"/etablissements/{alp001}/import/", data={"_csrf_token": token},
                                 files={"file": ("x.csv", b"", "text/csv")})
    assert response.status_code == 422


async def test_a_failed_job_leaves_nothing_half_imported_and_can_run_again(client, run_jobs, monkeypatch, redis_client):
    alp001 = await _alp001()
    await login(client, "alp001.get")
    lines = [HEADER] + [f"Prénom{i};Nom{i};;p{i}@example.org;{900000 + i};" for i in range(1200)]
    response = await _upload(client, alp001, lines)
    batch_id = int(response.headers["location"].rsplit("/", 1)[1])
    await post_form(client, f"/imports/{batch_id}/confirmer")
    before = await User.count()

    async def broken(*args, **kwargs):
        raise RuntimeError("SMTP database exploded")

    monkeypatch.setattr(imports.outbox, "queue_mails", broken)
    await run_jobs()
    assert await User.count() == before  # the 1,200 inserted users were rolled back
    batch = await ImportBatch.select().where(ImportBatch.id == batch_id).first()
    assert batch["status"] == "failed"
    assert "L'import a échoué ; aucun compte n'a été créé." in text((await client.get(f"/imports/{batch_id}")).text)

    monkeypatch.undo()
    await ImportBatch.update({ImportBatch.status: "queued"}).where(ImportBatch.id == batch_id)
    assert (await imports.run_import(redis_client, batch_id))["created"] == 1200
    assert await User.count() == before + 1200
    # Running it once more does nothing: no duplicate.
    assert await imports.run_import(redis_client, batch_id) == {"skipped": "not queued"}
    assert await User.count() == before + 1200


async def test_bulk_decision_and_scope_of_batches(client, new_client):
    alp001 = await _alp001()
    existing = await User.select(User.email).where(User.username.like("alp001.%.%")).limit(3)
    await login(client, "alp001.get")
    response = await _upload(client, alp001, [HEADER] + [f"A{i};B{i};;{u['email']};;" for i, u in enumerate(existing)])
    batch_id = int(response.headers["location"].rsplit("/", 1)[1])
    response = await post_form(client, f"/imports/{batch_id}/decisions", {"all": "update"})
    assert response.status_code == 303
    decisions = {r["decision"] for r in await ImportRow.select(ImportRow.decision).where(ImportRow.batch == batch_id)}
    assert decisions == {"update"}
    async with new_client() as other:
        await login(other, "dam001.get")
        assert (await other.get(f"/imports/{batch_id}")).status_code == 404
        assert (await post_form(other, f"/imports/{batch_id}/confirmer")).status_code == 404
    assert (await ImportBatch.select(ImportBatch.status).where(ImportBatch.id == batch_id).first())["status"] == "preview"
