"""Administration screens, and through them the shared table helper (filters, sort, pagination,
per page, Excel export) and the htmx region/full page answers."""

import dataclasses
import io

import polars as pl
import pytest

from app.tables.accounts import RoleAssignment, User
from app.tables.org import Delegation, Establishment
from tests import factories
from tests.helpers import login, post_form, text


async def _many_establishments(n: int) -> int:
    """``n`` establishments of ALP named « EHPAD NUMÉRO 00 »…; how many the table holds now (the
    demo's too: the expected figures follow from it, not from app/demo.py)."""
    await factories.establishments(n, "ALP", name="EHPAD NUMÉRO {i:02d}")
    return await Establishment.count()


async def _codes(descending: bool = False) -> list[str]:
    return sorted((r["code"] for r in await Establishment.select(Establishment.code)), reverse=descending)


@pytest.mark.smoke
async def test_admin_creates_edits_and_deletes_a_delegation(client):
    await login(client, "admin")
    response = await post_form(client, "/admin/delegations/nouvelle", {"code": "nor", "name": "NORMANDIE"})
    assert response.status_code == 303 and response.headers["location"] == "/admin/delegations"
    listing = text((await client.get("/admin/delegations")).text)
    assert "Délégation enregistrée." in listing and "NOR NORMANDIE" in listing
    # Same code again: refused next to the field, what was typed is kept.
    response = await post_form(client, "/admin/delegations/nouvelle", {"code": "NOR", "name": "Autre"})
    assert response.status_code == 422
    body = text(response.text)
    assert "Le code NOR est déjà utilisé par une autre délégation." in body
    assert 'value="Autre"' in response.text
    nor = await Delegation.select(Delegation.id).where(Delegation.code == "NOR").first()
    response = await post_form(client, f"/admin/delegations/{nor['id']}/modifier", {"code": "NOR", "name": "NORMANDIE OUEST"})
    assert response.status_code == 303
    assert (await Delegation.select(Delegation.name).where(Delegation.id == nor["id"]).first())["name"] == "NORMANDIE OUEST"
    confirm = await client.get(f"/admin/delegations/{nor['id']}/supprimer")
    assert "Supprimer la délégation NOR — NORMANDIE OUEST ?" in text(confirm.text)
    response = await post_form(client, f"/admin/delegations/{nor['id']}/supprimer")
    assert response.status_code == 303
    assert not await Delegation.exists().where(Delegation.code == "NOR")


async def test_empty_form_gets_every_error_and_nothing_is_written(client):
    await login(client, "admin")
    before = await Establishment.count()
    response = await post_form(client, "/admin/etablissements/nouveau", {})
    assert response.status_code == 422
    body = text(response.text)
    assert "Le code est obligatoire" in body and "Le nom est obligatoire." in body and "Choisissez une délégation." in body
    assert await Establishment.count() == before


async def test_delegation_with_establishments_cannot_be_deleted(client):
    await login(client, "admin")
    alp = await Delegation.select(Delegation.id).where(Delegation.code == "ALP").first()
    response = await post_form(client, f"/admin/delegations/{alp['id']}/supprimer")
    assert response.status_code == 400
    assert "Cette délégation a encore des établissements" in text(response.text)
    assert await Delegation.exists().where(Delegation.code == "ALP")


async def test_double_submit_creates_one_establishment(client):
    await login(client, "admin")
    alp = await Delegation.select(Delegation.id).where(Delegation.code == "ALP").first()
    data = {"code": "ALP777", "name": "CH DOUBLE", "delegation": alp["id"]}
    first = await post_form(client, "/admin/etablissements/nouveau", data)
    second = await post_form(client, "/admin/etablissements/nouveau", data)
    assert first.status_code == 303 and second.status_code == 422
    assert "déjà utilisé" in text(second.text)
    assert await Establishment.count().where(Establishment.code == "ALP777") == 1


async def test_table_paginates_sorts_and_filters(client):
    total = await _many_establishments(45)
    last_page = (total - 1) // 20 * 20 + 1  # the first row of the last page of 20
    assert total > 40
    await login(client, "admin")
    page1 = await client.get("/admin/etablissements?per_page=20")
    body = text(page1.text)
    assert f"1–20 sur {total}" in body
    # `1 2 3 »`: links to every page and to the next one.
    assert 'aria-current="page">1<' in page1.text
    assert "page=2" in page1.text and "page=3" in page1.text and 'aria-label="Page suivante"' in page1.text
    page3 = text((await client.get("/admin/etablissements?per_page=20&page=3")).text)
    assert f"41–{min(60, total)} sur {total}" in page3
    # Sorted by code descending.
    desc = text((await client.get("/admin/etablissements?sort=-code")).text)
    codes = await _codes(descending=True)
    assert desc.index(codes[0]) < desc.index(codes[1]) < desc.index(codes[19]) and codes[20] not in desc
    # Filtered: case-insensitive, and the count follows the filter.
    filtered = text((await client.get("/admin/etablissements?q=numéro 0")).text)
    assert "1–10 sur 10" in filtered
    # A page beyond the end shows the last one; garbage parameters fall back to defaults.
    assert f"{last_page}–{total} sur {total}" in text((await client.get("/admin/etablissements?page=99")).text)
    assert f"1–20 sur {total}" in text((await client.get("/admin/etablissements?page=x&per_page=7&sort=password")).text)


async def test_many_pages_show_a_gap(client):
    total = await _many_establishments(400)
    await login(client, "admin")
    page = await client.get("/admin/etablissements?page=10")
    assert "…" in page.text
    assert f"page={(total + 19) // 20}" in page.text  # the last page
    assert 'aria-current="page">10<' in page.text


async def test_htmx_gets_the_table_region_only_and_the_answer_varies_on_it(client):
    await login(client, "admin")
    full = await client.get("/admin/etablissements")
    region = await client.get("/admin/etablissements", headers={"HX-Request": "true", "HX-Target": "table-region"})
    for response in (full, region):
        assert "HX-Request" in [v.strip() for v in response.headers["vary"].split(",")]
    assert "<html" in full.text and '<form class="filters"' in full.text
    assert "<html" not in region.text and region.text.lstrip().startswith('<div id="table-region"')
    assert "CH BUIS LES BARONNIES" in region.text
    # htmx 2 marks a history restore (Back button after a swap, cache miss) as an htmx request too:
    # it must get the whole page, or the Back button shows a bare table.
    restore = await client.get("/admin/etablissements", headers={"HX-Request": "true",
                                                                 "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text and '<form class="filters"' in restore.text


async def test_excel_export_has_every_filtered_row_and_no_formula(client):
    await _many_establishments(30)
    alp = await Delegation.select(Delegation.id).where(Delegation.code == "ALP").first()
    await Establishment.insert(Establishment(code="ALP999", name='=HYPERLINK("http://evil","clic")', delegation=alp["id"]))
    of_alp = await Establishment.count().where(Establishment.delegation == alp["id"])
    assert of_alp > 20 and of_alp < await Establishment.count()  # more than a page, not every row
    await login(client, "admin")
    response = await client.get("/admin/etablissements?export=xlsx&delegation=" + str(alp["id"]) + "&per_page=20")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    frame = pl.read_excel(io.BytesIO(response.content))
    assert frame.columns == ["Code", "Nom", "Délégation"]
    assert frame.height == of_alp  # all pages, only ALP
    assert set(frame["Délégation"]) == {"ALP"}
    evil = frame.filter(pl.col("Code") == "ALP999")["Nom"][0]
    assert evil.startswith("'=")


async def test_large_export_runs_as_a_job_with_progress(client, run_jobs, monkeypatch):
    import app.http.tableview as tableview

    settings = dataclasses.replace(tableview.get_settings(), export_inline_max_rows=2)
    monkeypatch.setattr(tableview, "get_settings", lambda: settings)
    await login(client, "admin")
    response = await client.get("/admin/etablissements?export=xlsx")
    assert response.status_code == 303
    job_url = response.headers["location"]
    assert job_url.startswith("/taches/")
    waiting = await client.get(job_url)
    assert "En attente de démarrage" in text(waiting.text) and "Tâche en cours" in text(waiting.text)
    # The self-polling partial keeps polling while the job is not over.
    partial = await client.get(job_url, headers={"HX-Request": "true"})
    assert partial.status_code == 200 and 'data-hx-trigger="every 1s"' in partial.text
    await run_jobs()
    partial = await client.get(job_url, headers={"HX-Request": "true"})
    assert partial.status_code == 286  # htmx stops polling
    assert "Terminé." in text(partial.text) and "data-hx-trigger" not in partial.text
    assert "Tâche terminée" in text((await client.get(job_url)).text)  # the whole page, without JS
    token = job_url.rsplit("/", 1)[1]
    download = await client.get(f"/exports/{token}")
    assert download.status_code == 200
    assert pl.read_excel(io.BytesIO(download.content)).height == 4
    # Someone else cannot read it.
    await post_form(client, "/deconnexion")
    await login(client, "ged.alp")
    assert (await client.get(f"/exports/{token}")).status_code == 404
    assert (await client.get(job_url)).status_code == 404


async def test_an_export_as_a_job_is_the_file_of_the_inline_export(client, run_jobs, monkeypatch):
    """A job writes its export to a scratch file of the worker, copied into the database and then
    removed: the same file as the inline export (Excel: same cells; CSV: same bytes, BOM, « ; »,
    CRLF, formula-looking text neutralised), and nothing left in the scratch folder."""
    import app.http.tableview as tableview
    from app.settings import get_settings

    alp = await Delegation.select(Delegation.id).where(Delegation.code == "ALP").first()
    await Establishment.insert(Establishment(code="ALP999", name='=HYPERLINK("http://evil","clic")', delegation=alp["id"]))
    await login(client, "admin")
    inline = {fmt: (await client.get(f"/admin/etablissements?export={fmt}")).content for fmt in ("csv", "xlsx")}
    assert inline["csv"].startswith("\ufeff".encode()) and b"\r\n" in inline["csv"]
    assert '\'=HYPERLINK("http://evil"'.replace('"', '""').encode() in inline["csv"]
    settings = dataclasses.replace(tableview.get_settings(), export_inline_max_rows=2)
    monkeypatch.setattr(tableview, "get_settings", lambda: settings)
    for fmt in ("csv", "xlsx"):
        job_url = (await client.get(f"/admin/etablissements?export={fmt}")).headers["location"]
        await run_jobs()
        download = await client.get(f"/exports/{job_url.rsplit('/', 1)[1]}")
        assert download.status_code == 200
        if fmt == "csv":
            assert download.content == inline["csv"]
        else:
            assert pl.read_excel(io.BytesIO(download.content)).equals(pl.read_excel(io.BytesIO(inline["xlsx"])))
    scratch = get_settings().var_dir / "exports"
    assert scratch.is_dir() and not list(scratch.iterdir())


async def test_a_large_export_is_offered_for_an_hour(client, run_jobs, monkeypatch):
    """The export's file is stored in the database with the other job results; after an hour it is
    no longer served (it shows the data of its hour): « relancez l'export »."""
    from datetime import timedelta

    import app.http.tableview as tableview
    from app.dates import now
    from app.lists import XLSX
    from app.tables.files import StoredFile

    settings = dataclasses.replace(tableview.get_settings(), export_inline_max_rows=2)
    monkeypatch.setattr(tableview, "get_settings", lambda: settings)
    await login(client, "admin")
    token = (await client.get("/admin/etablissements?export=xlsx")).headers["location"].rsplit("/", 1)[1]
    await run_jobs()
    assert await StoredFile.count().where(StoredFile.content_type == XLSX) == 1
    assert (await client.get(f"/exports/{token}")).status_code == 200
    await StoredFile.update({StoredFile.created_at: now() - timedelta(minutes=59)}).where(
        StoredFile.content_type == XLSX)
    assert (await client.get(f"/exports/{token}")).status_code == 200
    await StoredFile.update({StoredFile.created_at: now() - timedelta(minutes=61)}).where(
        StoredFile.content_type == XLSX)
    expired = await client.get(f"/exports/{token}")
    assert expired.status_code == 404
    assert "Ce fichier n'est plus disponible : relancez l'export." in text(expired.text)


async def test_ged_grants_get_role_within_delegation_only(client, new_client):
    await login(client, "ged.alp")
    learner = await User.select(User.username).where(User.username.like("alp002.%")).first()
    ids = {r["code"]: r["id"] for r in await Establishment.select(Establishment.id, Establishment.code)}
    response = await post_form(
        client, "/roles/", {"username": learner["username"], "role": "get", "establishment": ids["DAM001"]}
    )
    assert response.status_code == 422
    assert "Ce rôle s'exerce sur un établissement de votre périmètre" in text(response.text)
    response = await post_form(client, "/roles/", {"username": learner["username"], "role": "admin"})
    assert response.status_code == 422
    assert "Choisissez un rôle que vous pouvez attribuer." in text(response.text)
    response = await post_form(
        client, "/roles/", {"username": learner["username"], "role": "get", "establishment": ids["ALP002"]}
    )
    assert response.status_code == 303
    grant = await RoleAssignment.select(RoleAssignment.id).where(
        (RoleAssignment.role == "get") & (RoleAssignment.user.username == learner["username"])
    ).first()
    assert grant
    # The new GET now manages ALP002.
    async with new_client() as other:
        await login(other, learner["username"])
        assert (await other.get(f"/etablissements/{ids['ALP002']}")).status_code == 200
    response = await post_form(client, f"/roles/{grant['id']}/retirer")
    assert response.status_code == 303
    assert not await RoleAssignment.exists().where(RoleAssignment.id == grant["id"])


async def test_admin_cannot_remove_own_admin_role(client):
    await login(client, "admin")
    grant = await RoleAssignment.select(RoleAssignment.id).where(
        (RoleAssignment.role == "admin") & (RoleAssignment.user.username == "admin")
    ).first()
    response = await post_form(client, f"/roles/{grant['id']}/retirer")
    assert response.status_code == 400
    assert "propre rôle d'administrateur" in text(response.text)


@pytest.mark.smoke
async def test_a_list_longer_than_it_counts_says_so_and_reaches_its_end(client, monkeypatch):
    """Issue 8: a list counts up to COUNT_CAP rows and pages at most that far from either end, so
    its 5,000th page costs what its first does; its end is reached through "Dernière page"."""
    from app import datatable

    monkeypatch.setattr(datatable.model, "COUNT_CAP", 40)
    assert await _many_establishments(61) > 41  # more than it counts
    await login(client, "admin")
    first = await client.get("/admin/etablissements?per_page=20")
    body = text(first.text)
    assert "1–20 sur plus de 40" in body
    # Numbered pages up to what is counted, then the way to the end.
    assert 'aria-current="page">1<' in first.text and "page=2" in first.text and "page=3" not in first.text
    assert 'aria-label="Dernière page"' in first.text and "page=-1" in first.text
    last = await client.get("/admin/etablissements?per_page=20&page=-1")
    body = text(last.text)
    assert "Les 20 dernières lignes sur plus de 40" in body
    codes = await _codes()
    # The last 20 codes, in the list's order (not reversed).
    positions = [body.index(code) for code in codes[-20:]]
    assert positions == sorted(positions) and codes[-21] not in body
    assert 'aria-label="Page précédente"' in last.text and "page=-2" in last.text
    assert 'aria-label="Page suivante"' not in last.text
    before = text((await client.get("/admin/etablissements?per_page=20&page=-2")).text)
    assert "Lignes 21 à 40 en partant de la fin" in before
    assert codes[-21] in before and codes[-40] in before and codes[-41] not in before and codes[-1] not in before
    # A page beyond what is counted shows the last page, as a page beyond the end of a short list does.
    assert "Les 20 dernières lignes" in text((await client.get("/admin/etablissements?per_page=20&page=4")).text)
    # The last page reachable from the start says how to go further.
    page2 = text((await client.get("/admin/etablissements?per_page=20&page=2")).text)
    assert "21–40 sur plus de 40" in page2 and "affinez les filtres" in page2
    # Sorted the other way, the end comes first: the same rows from the other side.
    desc_last = text((await client.get("/admin/etablissements?per_page=20&page=-1&sort=-code")).text)
    assert codes[0] in desc_last and codes[19] in desc_last and codes[20] not in desc_last
    # A short list is counted exactly and a negative page counts from its end.
    filtered = text((await client.get("/admin/etablissements?per_page=20&q=numéro 1&page=-1")).text)
    assert "1–10 sur 10" in filtered


@pytest.mark.smoke
async def test_one_or_two_letters_find_what_begins_with_them(client):
    """Issue 8: "du" finds Dupont and Durand, not Arduin (a prefix is a b-tree range on 100,000
    users, "contains" read every row); three letters or more still find what contains them."""
    for username, last in (("dam001.get", "Dupont"), ("ged.alp", "Arduin")):
        await User.update({User.last_name: last, User.last_name_key: last.lower()}).where(User.username == username)
    await login(client, "admin")
    short = text((await client.get("/utilisateurs?last_name=DU&per_page=100")).text)
    assert "dam001.get" in short and "ged.alp" not in short
    longer = text((await client.get("/utilisateurs?last_name=rdu&per_page=100")).text)
    assert "ged.alp" in longer and "dam001.get" not in longer
    # The same rule on every searched list (here the establishments' "code or name").
    assert "Aucune ligne" in text((await client.get("/admin/etablissements?q=01")).text)
    assert "ALP001" in text((await client.get("/admin/etablissements?q=001")).text)
