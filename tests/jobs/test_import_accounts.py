"""SPEC A3 end to end on the server side: upload -> preview -> decisions -> job -> report."""

import io

import polars as pl
import pytest

from app.services import imports, outbox
from app.tables.accounts import RoleAssignment, User
from app.tables.cohorts import Cohort, CohortMember
from app.tables.imports import ImportBatch, ImportRow
from app.tables.org import Establishment
from tests.conftest import run_burst_worker
from tests.helpers import login, post_form, text

HEADER = "firstname;lastname;password;email;profile_field_matricule;cohort1"


async def _alp001():
    return (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]


async def _upload(client, establishment_id, lines, filename="comptes.csv", encoding="utf-8", analyse=True):
    """Upload a file; once accepted (303 to its batch), the job that analyses its rows runs (a burst
    worker, as ``run_jobs``) unless ``analyse`` is false: the preview is then ready."""
    content = ("\r\n".join(lines) + "\r\n").encode(encoding)
    from tests.helpers import csrf_token

    token = await csrf_token(client)
    response = await client.post(
        f"/etablissements/{establishment_id}/import/",
        files={"file": (filename, content, "text/csv")},
        data={"_csrf_token": token},
    )
    if response.status_code == 303 and analyse:
        await run_burst_worker()
    return response


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
    assert rows[8]["allowed"] == ["skip", "update"] and rows[8]["username"] == existing["username"]
    assert rows[10]["allowed"] == ["skip"] and "hors de votre périmètre" in rows[10]["problems"]
    page = text((await client.get(f"/imports/{batch_id}?per_page=50")).text)
    assert "4 prête(s)" in page and "2 à décider" in page and "3 en erreur" in page
    assert "Prénom manquant." in page and "Adresse de courriel invalide : pas-un-mail." in page
    # Issue 20 point 11: the line without e-mail shows the fictitious address its account gets.
    assert "alp001.l.sansmail.fictif@tremplin.local (adresse fictive : aucun courriel envoyé)" in page

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
    assert "alp001.l.sansmail.fictif@tremplin.local" in frame["Adresse de courriel"].to_list()
    assert "alp001.l.sansmail.fictif@tremplin.local" in text((await client.get(f"/imports/{batch_id}?per_page=50")).text)

    # The CSV password works, then the change is forced, and the cheap hash is replaced at login.
    await post_form(client, "/deconnexion")
    await login(client, "alp001.v.blondel", "Anfh_2025!")
    assert (await client.get("/")).headers["location"] == "/mot-de-passe"
    stored = (await User.select(User.password_hash).where(User.username == "alp001.v.blondel").first())["password_hash"]
    assert "m=256," not in stored
    # A generated password (mailed) is hashed with argon2's smallest cost (random, nothing to guess):
    # it works, the change is forced, and its hash too is replaced at login.
    body = next(m for r, m in smtp.messages if r == ["bea.trice@example.org"]).get_payload(decode=True).decode()
    generated = body.split("Mot de passe : ")[1].split("\n")[0].strip()
    before = (await User.select(User.password_hash).where(User.username == "alp001.b.trice").first())["password_hash"]
    assert before.startswith("$argon2id$") and "m=8," in before
    await post_form(client, "/deconnexion")
    await login(client, "alp001.b.trice", generated)
    assert (await client.get("/")).headers["location"] == "/mot-de-passe"
    stored = (await User.select(User.password_hash).where(User.username == "alp001.b.trice").first())["password_hash"]
    assert "m=8," not in stored


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

    monkeypatch.setattr(outbox, "queue_mails", broken)
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


async def _establishment(code):
    return (await Establishment.select(Establishment.id).where(Establishment.code == code).first())["id"]


async def _preview(client, batch_id):
    return text((await client.get(f"/imports/{batch_id}?per_page=100")).text)


async def _confirm_and_run(client, batch_id, run_jobs):
    assert (await post_form(client, f"/imports/{batch_id}/confirmer")).status_code == 303
    await run_jobs()
    return await ImportBatch.select().where(ImportBatch.id == batch_id).first()


async def test_nothing_of_another_scope_is_shown_in_the_preview_or_the_report(client, run_jobs):
    """Issue 8.3: dam001.get uploads ALP e-mails and matricules, and the e-mail of a DAM001 account
    holding rights beyond DAM001 (a GED): no foreign username or establishment appears anywhere,
    the rows are refused as they are, and none of those accounts changes."""
    dam001 = await _establishment("DAM001")
    alp = await User.select(User.id, User.username, User.email, User.matricule).where(
        User.username.like("alp00%.%.%")).where(User.email.not_like("%fictif%")).order_by(User.id).limit(6)
    higher = await User.select(User.id, User.email, User.username).where(User.username.like("dam001.%.%")).where(
        User.email.not_like("%fictif%")).first()
    delegation = (await Establishment.select(Establishment.delegation).where(Establishment.id == dam001).first())["delegation"]
    await RoleAssignment.insert(RoleAssignment(user=higher["id"], role="ged", delegation=delegation))
    await login(client, "dam001.get")
    lines = [HEADER]
    for i, u in enumerate(alp[:3]):  # their e-mails
        lines.append(f"Autre{i};Nom{i};Anfh_2025!;{u['email'].upper()};{70000 + i};")
    for i, u in enumerate(alp[3:]):  # their matricules: DAM001 numbers its own agents, no match
        lines.append(f"Agent{i};Matricule{i};Anfh_2025!;nouvel{i}@example.org;{u['matricule']};")
    lines.append(f"Gé;Rant;Anfh_2025!;{higher['email']};;")
    response = await _upload(client, dam001, lines)
    batch_id = int(response.headers["location"].rsplit("/", 1)[1])
    rows = await _batch_rows(batch_id)
    page = await _preview(client, batch_id)
    for line in (2, 3, 4, 8):
        assert rows[line]["status"] == "error" and rows[line]["allowed"] == ["skip"]
        assert rows[line]["username"] == "" and rows[line]["existing_user"] is None
        assert rows[line]["problems"] == ("Cette adresse ou ce matricule est déjà utilisé par un compte hors de votre "
                                          "périmètre : ligne non importable.")
    assert [rows[line]["status"] for line in (5, 6, 7)] == ["ok"] * 3
    # (The addresses typed in the file are shown, of course: nothing else of those accounts.)
    foreign = [u["username"] for u in alp] + [higher["username"], "ALP00", "CH BUIS", "(DAM001)"]
    assert not [f for f in foreign if f in page]
    assert "hors de votre périmètre : ligne non importable." in page

    # Even told to update or create everything, the foreign accounts stay untouched.
    before = {u["id"]: u for u in await User.select().where(User.id.is_in([u["id"] for u in alp] + [higher["id"]]))}
    for decision in ("update", "create"):
        await post_form(client, f"/imports/{batch_id}/decisions", {"all": decision})
    batch = await _confirm_and_run(client, batch_id, run_jobs)
    assert (batch["created_count"], batch["updated_count"], batch["skipped_count"]) == (3, 0, 4)
    after = {u["id"]: u for u in await User.select().where(User.id.is_in(list(before)))}
    assert after == before
    report = await _preview(client, batch_id)
    xlsx = pl.read_excel(io.BytesIO((await client.get(f"/imports/{batch_id}?export=xlsx")).content))
    exported = " ".join(str(v) for row in xlsx.rows() for v in row)
    for shown in (report, exported):
        assert not [f for f in foreign if f in shown]


@pytest.mark.smoke
async def test_homonyms_are_ready_and_the_same_person_never_gets_two_accounts(client, run_jobs):
    """Issue 8.12: homonyms get the next free suffix, shown; 13 rows that are the same person as
    another row or an existing account never become second accounts, whatever is applied to all."""
    alp001 = await _alp001()
    existing = await User.select(User.id, User.username, User.first_name, User.last_name, User.email,
                                 User.matricule).where(User.username.like("alp001.%.%")).where(
        User.email.not_like("%fictif%")).order_by(User.id).limit(3)
    await login(client, "alp001.get")
    first = existing[0]
    lines = [
        HEADER,
        f"{first['first_name']};{first['last_name']};;homonyme@example.org;55501;",  # 2 homonym of an account
        "Laura;Zéphyr;;laura.zephyr@example.org;55502;",                              # 3
        "Louis;Zephyr;;louis.zephyr@example.org;55503;",                              # 4 homonym of line 3
        "Léa;Zéphyr;;lea.zephyr@example.org;55504;",                                  # 5 homonym of lines 3-4
    ]
    # 13 rows that are someone already there: 6 repeat a row above, 7 an existing account.
    lines += [f"Laura;Zéphyr;;LAURA.ZEPHYR@example.org;{55600 + i};" for i in range(3)]    # e-mail of line 3
    lines += [f"L;Zephyr{i};;autre{i}@example.org;55503;" for i in range(3)]               # matricule of line 4
    lines += [f"Quelqu'un;D'autre{i};;{existing[i % 3]['email']};;" for i in range(4)]    # e-mail of an account
    lines += [f"Un;Autre{i};;x{i}@example.org;{existing[i]['matricule']};" for i in range(3)]  # matricule of an account
    response = await _upload(client, alp001, lines)
    batch_id = int(response.headers["location"].rsplit("/", 1)[1])
    rows = await _batch_rows(batch_id)
    assert rows[2]["status"] == "ok" and rows[2]["username"] == first["username"] + "2"
    assert [rows[line]["username"] for line in (3, 4, 5)] == ["alp001.l.zephyr", "alp001.l.zephyr2", "alp001.l.zephyr3"]
    assert all(rows[line]["status"] == "ok" and rows[line]["decision"] == "create" for line in (3, 4, 5))
    page = await _preview(client, batch_id)
    assert "Homonyme : alp001.l.zephyr est déjà pris, le compte sera alp001.l.zephyr2." in page
    assert "à décider" in page
    same = [line for line in range(6, 19)]
    assert all("create" not in rows[line]["allowed"] and "suffix" not in rows[line]["allowed"] for line in same)
    assert "Même personne que la ligne 3 (la même adresse de courriel)" in rows[6]["problems"]
    assert "Un compte existe déjà avec la même adresse de courriel" in rows[12]["problems"]
    assert "Même personne que la ligne 12 (le même compte existant)" in rows[16]["problems"]

    # "Apply to all", every choice the form offers, and a forged one.
    for decision in ("create", "suffix", "update", "create"):
        await post_form(client, f"/imports/{batch_id}/decisions", {"all": decision})
    before = await User.count()
    batch = await _confirm_and_run(client, batch_id, run_jobs)
    assert batch["created_count"] == 4 and await User.count() == before + 4
    assert batch["updated_count"] == 3  # each existing account once (lines 12-14)
    emails = [u["email"].lower() for u in await User.select(User.email)]
    assert len(emails) == len(set(emails))
    matricules = [u["matricule"] for u in await User.select(User.matricule).where(
        (User.establishment == alp001) & (User.matricule != ""))]
    assert len(matricules) == len(set(matricules))


async def test_a_person_created_since_the_preview_is_not_created_again(client, run_jobs):
    """Two previews of the same people (two tabs, a corrected spelling), both confirmed: the second
    import finds the e-mail taken by then and creates no second account."""
    alp001 = await _alp001()
    await login(client, "alp001.get")
    first = await _upload(client, alp001, [HEADER, "Nina;Simone;Anfh_2025!;nina@example.org;4100;"])
    second = await _upload(client, alp001, [HEADER, "Nina;Simone-Waymon;Anfh_2025!;NINA@example.org;4199;"])
    first_id, second_id = (int(r.headers["location"].rsplit("/", 1)[1]) for r in (first, second))
    assert (await _confirm_and_run(client, first_id, run_jobs))["created_count"] == 1
    batch = await _confirm_and_run(client, second_id, run_jobs)
    assert (batch["created_count"], batch["failed_count"]) == (0, 1)
    assert await User.count().where(User.first_name == "Nina") == 1
    assert "une personne n'a qu'un compte" in await _preview(client, second_id)


@pytest.mark.smoke
async def test_the_report_shows_the_username_created(client, run_jobs):
    """Issue 9: alp001.l.zephyr was proposed, taken meanwhile: the account is alp001.l.zephyr2 and
    the report (page and Excel) says so; rows not imported show no username."""
    alp001 = await _alp001()
    await login(client, "alp001.get")
    response = await _upload(client, alp001, [HEADER, "Lucie;Zéphyr;Anfh_2025!;lucie.zephyr@example.org;4200;",
                                              "Bad;;;;;"], filename="C:\\Mes documents\\agents\u202evsc.csv")
    batch_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert (await _batch_rows(batch_id))[2]["username"] == "alp001.l.zephyr"
    # The file's name as shown and kept: no folder, no bidirectional control.
    assert (await ImportBatch.select(ImportBatch.filename).where(ImportBatch.id == batch_id).first())[
        "filename"] == "agents_vsc.csv"
    await post_form(client, f"/etablissements/{alp001}/comptes/nouveau", {
        "username": "alp001.l.zephyr", "first_name": "Léon", "last_name": "Zéphyr", "email": "leon@example.org",
        "password": "Anfh_2025!", "establishment": str(alp001), "status": "fph_agent"})
    batch = await _confirm_and_run(client, batch_id, run_jobs)
    assert batch["created_count"] == 1
    assert (await User.select(User.email).where(User.username == "alp001.l.zephyr2").first())["email"] == "lucie.zephyr@example.org"
    rows = await _batch_rows(batch_id)
    assert rows[2]["username"] == "alp001.l.zephyr2" and rows[3]["username"] == ""
    assert "alp001.l.zephyr2" in await _preview(client, batch_id)
    xlsx = pl.read_excel(io.BytesIO((await client.get(f"/imports/{batch_id}?export=xlsx")).content))
    assert xlsx["Nom d'utilisateur"].to_list()[0] == "alp001.l.zephyr2"


@pytest.mark.smoke
async def test_the_preview_says_what_is_created_and_what_an_update_changes(client, run_jobs, new_client):
    """Issue 9: an unknown cohort is "cohorte créée"; a row without a first name has no username;
    « Mettre à jour » lists its changes and keeps the password unless the GET chooses to replace it."""
    alp001 = await _alp001()
    await Cohort.insert(Cohort(establishment=alp001, name="Cohorte connue"))
    target = await User.select().where(User.username.like("alp001.%.%")).where(
        User.email.not_like("%fictif%")).first()
    await login(client, "alp001.get")
    lines = [
        HEADER,
        f"Nouveau;{target['last_name']};Fichier_2025!;{target['email']};;Cohorte connue",  # 2 existing (e-mail)
        "Ada;Lovelace;Anfh_2025!;ada@example.org;4300;Cohorte inconnue",                   # 3 new cohort
        ";Martin;Anfh_2025!;martin@example.org;4301;",                                     # 4 no first name
    ]
    response = await _upload(client, alp001, lines)
    batch_id = int(response.headers["location"].rsplit("/", 1)[1])
    rows = await _batch_rows(batch_id)
    assert rows[4]["username"] == "" and rows[4]["status"] == "error"
    page = await _preview(client, batch_id)
    assert "alp001.x." not in page
    assert "Cohorte inconnue cohorte créée" in page and "Cohorte connue cohorte créée" not in page
    assert f"prénom « {target['first_name']} » → « Nouveau »" in rows[2]["problems"]
    assert "ajout à la cohorte « Cohorte connue »" in rows[2]["problems"]
    assert "Le mot de passe actuel est conservé" in rows[2]["problems"]
    assert rows[2]["allowed"] == ["skip", "update", "update_password"]
    assert "Cohorte(s) créée(s) par l'import : « Cohorte inconnue »." in page

    await post_form(client, f"/imports/{batch_id}/lignes/{rows[2]['id']}", {"decision": "update"})
    batch = await _confirm_and_run(client, batch_id, run_jobs)
    assert (batch["created_count"], batch["updated_count"]) == (1, 1)
    updated = await User.select().where(User.id == target["id"]).first()
    assert updated["first_name"] == "Nouveau" and updated["password_hash"] == target["password_hash"]
    assert not updated["force_password_change"]
    async with new_client() as other:
        await login(other, target["username"])  # the password they had still works
    assert await Cohort.exists().where((Cohort.establishment == alp001) & (Cohort.name == "Cohorte inconnue"))

    # Chosen explicitly, the file's password replaces it (change forced).
    response = await _upload(client, alp001, [HEADER, f"Nouveau;{target['last_name']};Fichier_2025!;{target['email']};;"])
    batch_id = int(response.headers["location"].rsplit("/", 1)[1])
    row = (await _batch_rows(batch_id))[2]
    await post_form(client, f"/imports/{batch_id}/lignes/{row['id']}", {"decision": "update_password"})
    await _confirm_and_run(client, batch_id, run_jobs)
    async with new_client() as other:
        await login(other, target["username"], "Fichier_2025!")
        assert (await other.get("/")).headers["location"] == "/mot-de-passe"


async def test_an_over_long_field_is_refused_with_its_line_not_cut(client, run_jobs):
    alp001 = await _alp001()
    await login(client, "alp001.get")
    long_name = "Dupont-" + "x" * 120
    response = await _upload(client, alp001, [HEADER, "Ana;Court;Anfh_2025!;ana@example.org;4400;",
                                              f"Jean;{long_name};Anfh_2025!;jean@example.org;4401;"])
    batch_id = int(response.headers["location"].rsplit("/", 1)[1])
    rows = await _batch_rows(batch_id)
    assert rows[3]["status"] == "error" and rows[3]["allowed"] == ["skip"]
    assert "Le nom de famille ne peut pas dépasser 100 caractères. Ici : 127 caractères." in rows[3]["problems"]
    await post_form(client, f"/imports/{batch_id}/decisions", {"all": "create"})
    batch = await _confirm_and_run(client, batch_id, run_jobs)
    assert batch["created_count"] == 1
    assert not await User.exists().where(User.last_name.like("Dupont-x%"))


async def test_the_summary_follows_each_decision(client):
    """Issue 9: with htmx, each decision returns the summary recomputed by the server (swapped
    out of band); without JavaScript, the form posts and the page shows the same counts."""
    alp001 = await _alp001()
    existing = await User.select(User.email).where(User.username.like("alp001.%.%")).where(
        User.email.not_like("%fictif%")).limit(2)
    await login(client, "alp001.get")
    lines = [HEADER, "Ana;Un;Anfh_2025!;ana1@example.org;4501;", "Bob;Deux;faible;bob2@example.org;4502;",
             *(f"Nouveau{i};Nom{i};;{u['email']};;" for i, u in enumerate(existing))]
    response = await _upload(client, alp001, lines)
    batch_id = int(response.headers["location"].rsplit("/", 1)[1])
    rows = await _batch_rows(batch_id)
    assert "Seront traitées : 1 création(s), 0 mise(s) à jour, 3 ligne(s) ignorée(s)." in await _preview(client, batch_id)

    response = await post_form(client, f"/imports/{batch_id}/lignes/{rows[3]['id']}", {"decision": "create"}, htmx=True)
    assert 'id="import-summary"' in response.text and 'data-hx-swap-oob="true"' in response.text
    assert "Seront traitées : 2 création(s), 0 mise(s) à jour, 2 ligne(s) ignorée(s)." in text(response.text)
    response = await post_form(client, f"/imports/{batch_id}/lignes/{rows[4]['id']}", {"decision": "update"}, htmx=True)
    assert "Seront traitées : 2 création(s), 1 mise(s) à jour, 1 ligne(s) ignorée(s)." in text(response.text)

    back = f"/imports/{batch_id}?status=problem"
    response = await post_form(client, f"/imports/{batch_id}/lignes/{rows[5]['id']}", {"decision": "update", "next": back})
    assert response.status_code == 303 and response.headers["location"] == back
    assert "Seront traitées : 2 création(s), 2 mise(s) à jour, 0 ligne(s) ignorée(s)." in await _preview(client, batch_id)
