"""A session's lists sorted by name read the learner's key kept on the enrolment (issue 24:
``enrolment.name_key``, app/tables/name_keys.py). The order is the one of the folded last name
(accents and capitals aside), and it follows a name's change whoever writes it: the account form,
an import's update, a statement of its own (a pseudonymisation). On PostgreSQL and SQLite alike."""

import pytest

from app.datatable import DataTable
from app.services.text import user_text_fields
from app.tables.accounts import User
from app.tables.learning import Enrolment
from tests.controllers.test_progress_overview import _dataset, _names
from tests.helpers import login, post_form
from tests.jobs.test_import_accounts import HEADER, _upload

pytestmark = pytest.mark.smoke  # the embedded database keeps the key with its own triggers


async def _rename(user_id: int, first: str, last: str) -> None:
    await User.update({User.first_name: first, User.last_name: last, **{
        getattr(User, k): v for k, v in user_text_fields(first, last).items()}}).where(User.id == user_id)


async def _order(client, session_id: int, query: str = "") -> list[str]:
    return _names((await client.get(f"/sessions/{session_id}/progression?per_page=20&{query}")).text)


async def test_french_names_sort_as_their_folded_last_name(client):
    data = await _dataset()
    learners = data["learners"]
    # Accents and capitals do not count: « Éluard » between « Dupont » and « Ewald » would be after
    # « Zola » byte by byte; « de la Fontaine » sorts under d, « Œuvray » as « oeuvray ».
    for user_id, (first, last) in zip(learners[:4], [("Ana", "Éluard"), ("Béa", "de la Fontaine"),
                                                    ("Cyril", "Œuvray"), ("Dora", "ZOLA")]):
        await _rename(user_id, first, last)
    await login(client, "alp001.get")
    assert await _order(client, data["session"]) == ["Béa de la Fontaine", "Ana Éluard", "Cyril Œuvray", "Dora ZOLA"]
    assert await _order(client, data["session"], "sort=-name") == [
        "Dora ZOLA", "Cyril Œuvray", "Ana Éluard", "Béa de la Fontaine"]
    # One or two letters: the last name begins with them (read from the enrolment's key, app/lists/_common.py).
    assert await _order(client, data["session"], "q=de") == ["Béa de la Fontaine"]
    assert await _order(client, data["session"], "q=oe") == ["Cyril Œuvray"]
    assert await _order(client, data["session"], "q=z&sort=-progress") == ["Dora ZOLA"]
    participants = (await client.get(f"/sessions/{data['session']}/participants?sort=last_name")).text
    positions = [participants.find(name) for name in ("de la Fontaine", "Éluard", "Œuvray", "ZOLA")]
    assert -1 not in positions and positions == sorted(positions)


async def test_the_order_follows_a_name_changed_by_the_account_form(client):
    data = await _dataset()
    await login(client, "alp001.get")
    assert (await _order(client, data["session"]))[0] == "Zoé Arnaud"
    target = await User.select().where(User.id == data["learners"][0]).first()
    response = await post_form(client, f"/utilisateurs/{target['id']}/modifier", {
        "username": target["username"], "first_name": "Zoé", "last_name": "Zénith", "email": target["email"],
        "establishment": target["establishment"], "status": target["status"], "matricule": target["matricule"],
    })
    assert response.status_code == 303, response.text
    assert await _order(client, data["session"]) == ["Bruno Bélier", "Chloé Caron", "Denis Dupont", "Zoé Zénith"]


async def test_the_order_follows_a_name_changed_by_an_import(client, run_jobs):
    data = await _dataset()
    target = await User.select().where(User.id == data["learners"][3]).first()  # Denis Dupont
    await User.update({User.email: "denis.dupont@example.org"}).where(User.id == target["id"])
    await login(client, "alp001.get")
    response = await _upload(client, target["establishment"], [
        HEADER, f"Denis;Aabel;Fichier_2025!;denis.dupont@example.org;{target['matricule']};"])
    batch_id = int(response.headers["location"].rsplit("/", 1)[1])
    from app.tables.imports import ImportRow

    row = await ImportRow.select().where(ImportRow.batch == batch_id).first()
    await post_form(client, f"/imports/{batch_id}/lignes/{row['id']}", {"decision": "update"})
    assert (await post_form(client, f"/imports/{batch_id}/confirmer")).status_code == 303
    await run_jobs()
    assert (await User.select(User.last_name).where(User.id == target["id"]).first())["last_name"] == "Aabel"
    assert await _order(client, data["session"]) == ["Denis Aabel", "Zoé Arnaud", "Bruno Bélier", "Chloé Caron"]


async def test_the_key_is_the_databases_own_whoever_writes(client):
    """A statement of its own (a pseudonymisation, a fix by hand) and a key written on the enrolment
    directly: the database keeps the enrolment's key equal to its user's."""
    data = await _dataset()
    learners = data["learners"]
    await User.raw("UPDATE app_user SET last_name = 'Anonyme', last_name_key = 'anonyme' WHERE id = {}", learners[2])
    await Enrolment.update({Enrolment.name_key: "aaaa"}).where(Enrolment.user == learners[3])
    keys = {r["user"]: r["name_key"] for r in await Enrolment.select(Enrolment.user, Enrolment.name_key).where(
        Enrolment.session == data["session"])}
    assert keys[learners[2]] == "anonyme"
    assert keys[learners[3]] == "dupont"
    await login(client, "alp001.get")
    assert (await _order(client, data["session"]))[:2] == ["Chloé Anonyme", "Zoé Arnaud"]


async def test_deep_pages_read_their_ids_first_and_show_the_same_rows(client, monkeypatch):
    """A page past DEFERRED_JOIN_OFFSET rows (set to 20 here) reads its ids, then their rows: the pages
    put end to end are still the whole list in its order, by name and by progress."""
    import app.datatable.model as limits
    from tests import factories
    from tests.controllers.test_progress_overview import _establishment

    built = await factories.session_with_learners(await _establishment("ALP001"), 45, slots=0)
    await Enrolment.raw("UPDATE enrolment SET percent = id % 7 WHERE session = {}", built.id)
    await login(client, "alp001.get")
    deferred: list[int] = []
    original = DataTable._rows_of

    async def rows_of(self, ids):
        deferred.append(len(ids))
        return await original(self, ids)

    monkeypatch.setattr(DataTable, "_rows_of", rows_of)
    for sort in ("name", "-progress"):
        whole = _names((await client.get(f"/sessions/{built.id}/progression?per_page=100&sort={sort}")).text)
        monkeypatch.setattr(limits, "DEFERRED_JOIN_OFFSET", 20)
        deferred.clear()
        pages = []
        for page in (1, 2, 3):
            pages += await _order(client, built.id, f"sort={sort}&page={page}")
        assert pages == whole and len(whole) == 45, sort
        assert len(deferred) == 2, deferred  # pages 2 and 3
        assert await _order(client, built.id, f"sort={sort}&page=-1") == whole[40:]
        monkeypatch.setattr(limits, "DEFERRED_JOIN_OFFSET", 500)
