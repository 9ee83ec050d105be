"""Trainers (« Formateur », issue 22): the managers' « Formateurs » page of a session (an existing
account, an external person created with the external rule and mailed their credentials, removal,
the slots x trainers table), forms posted without JavaScript, forged ids, and scope; the trainer's own
view of a session, their home page, the discussion as a trainer, and what a trainer cannot reach."""

import re
from datetime import timedelta

import pytest

from app.dates import today
from app.services.passwords import hash_password
from app.services.trainers import LEARNER_OF_SESSION, NO_ACCOUNT, STALE
from app.tables.accounts import RoleAssignment, User
from app.tables.catalogue import SessionSlot
from app.tables.evidence import SessionTrainer, SlotClosure, SlotTrainer
from app.tables.learning import Attendance, DiscussionMessage, Enrolment
from app.tables.org import Establishment
from tests import factories
from tests._closures import closed_slot
from tests.helpers import DEMO_PASSWORD, login, post_form, text


async def _est(code: str) -> int:
    return (await Establishment.select(Establishment.id).where(Establishment.code == code).first())["id"]


async def _slot_ids(session_id: int) -> list[int]:
    return [r["id"] for r in await SessionSlot.select(SessionSlot.id).where(SessionSlot.session == session_id).order_by(
        SessionSlot.day).order_by(SessionSlot.starts)]


async def _username(user_id: int) -> str:
    return (await User.select(User.username).where(User.id == user_id).first())["username"]


async def _demo_user(establishment: str) -> dict:
    """A demo learner of the establishment (who can log in with the demo password)."""
    return await User.select(User.id, User.username, User.email).where(
        User.establishment == await _est(establishment)).where(User.status == "fph_agent").order_by(User.id).first()


async def _trainer(session_id: int, slot_ids=None) -> tuple[int, str]:
    user_id = await factories.trainer(session_id, slot_ids, password_hash=hash_password(DEMO_PASSWORD))
    return user_id, await _username(user_id)


async def _roles(user_id: int) -> list[str]:
    return sorted(r["role"] for r in await RoleAssignment.select(RoleAssignment.role).where(RoleAssignment.user == user_id))


def _flash(response) -> str:
    return text(response.text)


# -- the managers' page ----------------------------------------------------------------------------
async def test_a_manager_adds_an_existing_account_once_and_never_reveals_one_outside(client):
    session = await factories.session_with_learners(await _est("ALP001"), learners_count=1)
    await login(client, "alp001.get")
    url = f"/sessions/{session.id}/formateurs"
    page = await client.get(url)
    assert page.status_code == 200 and "Aucun formateur pour le moment" in text(page.text)
    # The session page links to it.
    assert f'href="{url}"' in (await client.get(f"/sessions/{session.id}")).text

    agent = await _demo_user("ALP002")  # one of the GET's establishments
    added = await post_form(client, url, {"action": "add", "account": agent["username"].upper()}, follow_redirects=True)
    assert "est formateur de la session" in _flash(added)
    assert await SessionTrainer.count().where(SessionTrainer.session == session.id) == 1
    assert "trainer" in await _roles(agent["id"])
    grant = await RoleAssignment.select().where(
        (RoleAssignment.user == agent["id"]) & (RoleAssignment.role == "trainer")).first()
    assert grant["establishment"] is None and grant["delegation"] is None
    # The same account again, by its e-mail (a double submit): nothing more.
    again = await post_form(client, url, {"action": "add", "account": agent["email"]}, follow_redirects=True)
    assert "était déjà formateur" in _flash(again)
    assert await SessionTrainer.count().where(SessionTrainer.session == session.id) == 1
    assert (await _roles(agent["id"])).count("trainer") == 1
    assert agent["username"] in text((await client.get(url)).text)

    # Outside the scope, missing, an administrator: the very same words, nothing added.
    outsider = await _demo_user("DAM001")
    for typed in (outsider["username"], outsider["email"], "personne.inconnue", "admin"):
        refused = await post_form(client, url, {"action": "add", "account": typed})
        assert refused.status_code == 422, typed
        assert NO_ACCOUNT in text(refused.text) and typed in refused.text  # what was typed stays
    empty = await post_form(client, url, {"action": "add", "account": " "})
    assert empty.status_code == 422 and "Saisissez le nom d'utilisateur" in text(empty.text)
    assert await SessionTrainer.count().where(SessionTrainer.session == session.id) == 1


@pytest.mark.smoke  # the embedded SQLite database too
async def test_an_external_person_is_created_with_the_external_rule_and_mailed(client, smtp, run_jobs):
    session = await factories.session_with_learners(await _est("ALP001"), learners_count=0)
    await login(client, "alp001.get")
    url = f"/sessions/{session.id}/formateurs"
    made = await post_form(client, url, {"action": "create", "first_name": "Élodie", "last_name": "D'Artagnan-Lé",
                                         "email": "Elodie.Formatrice@Example.org"}, follow_redirects=True)
    assert "Compte externe ext.e.dartagnan-le créé pour Élodie D'Artagnan-Lé" in _flash(made)
    person = await User.select().where(User.username == "ext.e.dartagnan-le").first()
    assert person["external"] is True and person["establishment"] is None
    assert person["email"] == "elodie.formatrice@example.org" and person["force_password_change"] is True
    assert await _roles(person["id"]) == ["trainer"]  # a trainer, not a learner
    assert await SessionTrainer.exists().where(
        (SessionTrainer.session == session.id) & (SessionTrainer.user == person["id"]))
    await run_jobs()
    (recipients, mail), = [(r, m) for r, m in smtp.messages if "elodie.formatrice@example.org" in r]
    body = mail.get_body(("plain",)).get_content()
    assert "Nom d'utilisateur : ext.e.dartagnan-le" in body and "Mot de passe : " in body

    # A namesake gets the next suffix; a taken address is refused and nothing is made.
    await post_form(client, url, {"action": "create", "first_name": "Emma", "last_name": "d'Artagnan-le",
                                  "email": "emma@example.org"})
    assert await User.exists().where(User.username == "ext.e.dartagnan-le2")
    taken = await post_form(client, url, {"action": "create", "first_name": "Paul", "last_name": "Martin",
                                          "email": "ELODIE.formatrice@example.org"})
    assert taken.status_code == 422 and "déjà celle d'un autre compte" in text(taken.text)
    assert 'value="Paul"' in taken.text  # nothing typed is lost
    assert not await User.exists().where(User.username == "ext.p.martin")
    missing = await post_form(client, url, {"action": "create", "first_name": "", "last_name": "Martin", "email": "x"})
    assert missing.status_code == 422
    assert "Le prénom est obligatoire." in text(missing.text) and "Adresse de courriel invalide." in text(missing.text)
    assert await SessionTrainer.count().where(SessionTrainer.session == session.id) == 2


@pytest.mark.smoke  # the embedded SQLite database too
async def test_slots_are_assigned_set_based_and_forged_ids_change_nothing(client):
    est = await _est("ALP001")
    session = await factories.session_with_learners(est, learners_count=0, slots=3)
    other = await factories.session_with_learners(est, learners_count=0, slots=1)
    first, second, third = await _slot_ids(session.id)
    anne, _ = await _trainer(session.id)
    bob, _ = await _trainer(session.id)
    await login(client, "alp001.get")
    url = f"/sessions/{session.id}/formateurs"
    page = text((await client.get(url)).text)
    assert "Un créneau sans case cochée est animé par tous les formateurs de la session." in page

    saved = await post_form(client, url, {"action": "assign", "assign": [f"{first}:{anne}", f"{second}:{bob}",
                                                                          f"{second}:{anne}"]}, follow_redirects=True)
    assert "Formateurs des créneaux enregistrés." in _flash(saved)
    pairs = {(r["slot"], r["user"]) for r in await SlotTrainer.select()}
    assert pairs == {(first, anne), (second, bob), (second, anne)}
    again = await post_form(client, url, {"action": "assign", "assign": [f"{first}:{anne}", f"{second}:{bob}",
                                                                          f"{second}:{anne}"]}, follow_redirects=True)
    assert "Aucune modification" in _flash(again)
    # The session page names each slot's trainers: its own, else every trainer of the session.
    detail = text((await client.get(f"/sessions/{session.id}")).text)
    assert re.search(r"09:00–12:30 \(Formateur\(s\) : Form Ateur\d+\)", detail)
    assert re.search(r"13:30–17:00 \(Formateur\(s\) : Form Ateur\d+, Form Ateur\d+\)", detail)

    # Unticking everything of a slot gives it back to all trainers (set-based: the rows go).
    await post_form(client, url, {"action": "assign", "assign": [f"{second}:{bob}"]})
    assert {(r["slot"], r["user"]) for r in await SlotTrainer.select()} == {(second, bob)}
    # A slot of another session, someone who is no trainer, garbage: refused whole, nothing changed.
    (foreign,) = await _slot_ids(other.id)
    outsider = (await _demo_user("ALP001"))["id"]
    for forged in ([f"{foreign}:{anne}"], [f"{third}:{outsider}", f"{first}:{anne}"], ["1:2:3"], ["x"], [f"{third}:"]):
        refused = await post_form(client, url, {"action": "assign", "assign": forged})
        assert refused.status_code == 422 and STALE in text(refused.text), forged
    assert {(r["slot"], r["user"]) for r in await SlotTrainer.select()} == {(second, bob)}
    unknown = await post_form(client, url, {"action": "delete-all"})
    assert unknown.status_code == 422


async def test_removing_a_trainer_takes_their_slots_and_is_refused_once_they_closed_one(client):
    est = await _est("ALP001")
    session = await factories.session_with_learners(est, learners_count=0, slots=2)
    elsewhere = await factories.session_with_learners(est, learners_count=0, slots=1)
    first, second = await _slot_ids(session.id)
    (kept,) = await _slot_ids(elsewhere.id)
    anne, _ = await _trainer(session.id, [first])
    await SessionTrainer.insert(SessionTrainer(session=elsewhere.id, user=anne))
    await SlotTrainer.insert(SlotTrainer(slot=kept, user=anne))
    bob, _ = await _trainer(session.id, [second])
    await login(client, "alp001.get")
    url = f"/sessions/{session.id}/formateurs"

    removed = await post_form(client, url, {"action": "remove", "trainer": anne}, follow_redirects=True)
    assert "n'est plus formateur de la session" in _flash(removed)
    assert not await SessionTrainer.exists().where((SessionTrainer.session == session.id) & (SessionTrainer.user == anne))
    assert {(r["slot"], r["user"]) for r in await SlotTrainer.select()} == {(kept, anne), (second, bob)}
    assert "trainer" in await _roles(anne)  # still trains the other session
    twice = await post_form(client, url, {"action": "remove", "trainer": anne})
    assert twice.status_code == 404 and "Formateur introuvable" in text(twice.text)

    await SlotClosure.insert(SlotClosure(slot=second, closed_by=bob, records_sha256="0" * 64, code="TESTCLOSE01"))
    refused = await post_form(client, url, {"action": "remove", "trainer": bob})
    assert refused.status_code == 422 and "a clôturé un créneau de cette session" in text(refused.text)
    assert await SessionTrainer.exists().where((SessionTrainer.session == session.id) & (SessionTrainer.user == bob))
    await SlotClosure.delete().where(SlotClosure.slot == second)
    await post_form(client, url, {"action": "remove", "trainer": bob})
    assert await _roles(bob) == []  # their last session: the grant goes too


async def test_the_formateurs_page_is_its_managers_only(client, new_client):
    session = await factories.session_with_learners(await _est("DAM001"), learners_count=0)
    await login(client, "alp001.get")
    url = f"/sessions/{session.id}/formateurs"
    assert (await client.get(url)).status_code == 404
    agent = await _demo_user("ALP001")
    forged = await post_form(client, url, {"action": "add", "account": agent["username"]})
    assert forged.status_code == 404 and not await SessionTrainer.exists()
    assert (await client.get("/sessions/999999/formateurs")).status_code == 404
    no_csrf = await client.post(url, data={"action": "add", "account": agent["username"]})
    assert no_csrf.status_code == 403 and not await SessionTrainer.exists()
    async with new_client() as dam:
        await login(dam, "dam001.get")
        assert (await dam.get(url)).status_code == 200


# -- the trainer's side ----------------------------------------------------------------------------
async def _trained_session():
    """An ALP001 session of today (two slots) with three learners, its practical information, a
    trainer of the morning slot only, attendance of the morning recorded."""
    est = await _est("ALP001")
    session = await factories.session_with_learners(
        est, learners_count=3, slots=2, start=today(), place="Salle Ventoux\n26170 Buis",
        remote_url="https://visio.example.org/x", contact="Emma, 04 75 00 00 00", what_to_bring="Un stylo",
        discussion_block=True)
    morning, afternoon = await _slot_ids(session.id)
    trainer_id, username = await _trainer(session.id, [morning])
    enrolments = list(session.enrolments.values())
    await Attendance.insert(Attendance(enrolment=enrolments[0], slot=morning, status="present"),
                            Attendance(enrolment=enrolments[1], slot=morning, status="excused"))
    return session, morning, afternoon, trainer_id, username


async def test_a_trainer_sees_their_session_participants_slots_and_attendance(client):
    session, morning, afternoon, trainer_id, username = await _trained_session()
    second, _ = await _trainer(session.id, [afternoon])
    await login(client, username)
    response = await client.get(f"/formateur/sessions/{session.id}")
    assert response.status_code == 200
    page = text(response.text)
    people = await Enrolment.select(Enrolment.user.last_name.as_alias("last"), Enrolment.user.first_name.as_alias("first")).where(
        Enrolment.session == session.id)
    for p in people:
        assert f"{p['last'].upper()} {p['first']}" in page
    assert "Salle Ventoux" in page and "https://visio.example.org/x" in page and "Emma, 04 75 00 00 00" in page
    assert "Un stylo" in page and "CH BUIS LES BARONNIES" in page  # their establishment
    # Their slot has « Émargement »; the afternoon (another trainer's) has none.
    assert f'href="/creneaux/{morning}/emargement"' in response.text
    assert f"/creneaux/{afternoon}/emargement" not in response.text
    assert "feuille-signee.pdf" not in response.text
    # The attendance of their slot: 1 present, 0 absent, 1 excused, 1 not recorded; per learner.
    assert re.search(r"Présents Absents Excusés Non renseignés [^:]+, 09:00–12:30 1 0 1 1 Par participant", page), page
    assert "Présent" in page and "Excusé" in page
    # Once closed, the signed sheet too.
    await SlotClosure.insert(SlotClosure(slot=morning, closed_by=trainer_id, records_sha256="0" * 64, code="TESTCLOSE02"))
    assert f'href="/creneaux/{morning}/feuille-signee.pdf"' in (await client.get(f"/formateur/sessions/{session.id}")).text


async def test_a_trainer_reaches_nothing_else(client, new_client):
    session, morning, _, _, username = await _trained_session()
    same_establishment = await factories.session_with_learners(await _est("ALP001"), learners_count=1)
    other_establishment = await factories.session_with_learners(await _est("DAM001"), learners_count=1)
    await login(client, username)
    missing = await client.get("/formateur/sessions/999999")
    assert missing.status_code == 404 and "Session introuvable." in text(missing.text)
    for other in (same_establishment.id, other_establishment.id):
        answer = await client.get(f"/formateur/sessions/{other}")
        assert answer.status_code == 404 and text(answer.text) == text(missing.text)
        refused = await post_form(client, f"/formateur/sessions/{other}/discussion", {"body": "Bonjour"})
        assert refused.status_code == 404
        assert (await client.get(f"/sessions/{other}")).status_code == 404
    assert not await DiscussionMessage.exists()
    # Their session's manager page sends them to their own view of it; the manager pages refuse.
    own = await client.get(f"/sessions/{session.id}")
    assert own.status_code == 303 and own.headers["location"] == f"/formateur/sessions/{session.id}"
    for path in (f"/sessions/{session.id}/participants", f"/sessions/{session.id}/formateurs",
                 f"/sessions/{session.id}/presences", f"/sessions/{session.id}/emargement.pdf",
                 f"/sessions/{session.id}/discussion", "/utilisateurs/", f"/progression/sessions/{session.id}",
                 f"/etablissements/{await _est('ALP001')}/sessions"):
        assert (await client.get(path)).status_code in (403, 404), path
    # A manager of the session may open the trainer's view; a manager of another delegation may not.
    async with new_client() as manager:
        await login(manager, "alp001.get")
        assert (await manager.get(f"/formateur/sessions/{session.id}")).status_code == 200
    async with new_client() as dam:
        await login(dam, "dam001.get")
        assert (await dam.get(f"/formateur/sessions/{session.id}")).status_code == 404


async def test_a_trainer_reads_and_posts_in_the_discussion(client, new_client):
    session, _, _, trainer_id, username = await _trained_session()
    learner_id = session.learners[0]
    await DiscussionMessage.insert(DiscussionMessage(session=session.id, author=learner_id, body="Où est la salle ?"))
    await login(client, username)
    assert "Où est la salle ?" in text((await client.get(f"/formateur/sessions/{session.id}")).text)
    url = f"/formateur/sessions/{session.id}/discussion"
    posted = await post_form(client, url, {"body": "Salle Ventoux, au rez-de-chaussée."}, follow_redirects=True)
    assert "Message publié." in text(posted.text) and "au rez-de-chaussée" in text(posted.text)
    fragment = await post_form(client, url, {"body": "À demain."}, htmx=True)
    assert fragment.status_code == 200 and "À demain." in fragment.text and "<html" not in fragment.text
    empty = await post_form(client, url, {"body": ""})
    assert empty.status_code == 422 and "Écrivez un message" in text(empty.text)
    authors = {r["author"] for r in await DiscussionMessage.select(DiscussionMessage.author).where(
        DiscussionMessage.body.is_in(["Salle Ventoux, au rez-de-chaussée.", "À demain."]))}
    assert authors == {trainer_id}
    # The session's managers read it with the learners' messages.
    async with new_client() as manager:
        await login(manager, "alp001.get")
        page = text((await manager.get(f"/sessions/{session.id}/discussion")).text)
        trainer = await User.select(User.first_name, User.last_name).where(User.id == trainer_id).first()
        assert "À demain." in page
        # The trainer's messages say so; the learner's do not.
        assert f"{trainer['first_name']} {trainer['last_name']} Formateur —" in page
        assert page.count("Formateur —") == 2


async def test_the_home_page_lists_a_trainers_sessions_and_todays_slots(client):
    session, morning, afternoon, trainer_id, username = await _trained_session()
    await _trainer(session.id, [afternoon])  # the afternoon is someone else's
    past = await factories.session_with_learners(await _est("ALP002"), learners_count=0, slots=1,
                                                 start=today() - timedelta(days=10))
    await SessionTrainer.insert(SessionTrainer(session=past.id, user=trainer_id))
    untrained = await factories.session_with_learners(await _est("ALP001"), learners_count=0, slots=1, start=today())
    await login(client, username)
    response = await client.get("/")
    page = text(response.text)
    assert "Mes sessions (formateur)" in page
    assert f'href="/creneaux/{morning}/emargement"' in response.text  # their slot of today
    assert f"/creneaux/{afternoon}/emargement" not in response.text  # the other trainer's
    untrained_slot = (await _slot_ids(untrained.id))[0]
    assert f"/creneaux/{untrained_slot}/emargement" not in response.text
    assert "Aujourd'hui, 09:00–12:30" in page
    assert f'href="/formateur/sessions/{session.id}"' in response.text
    assert f'href="/formateur/sessions/{past.id}"' in response.text and "Terminées" in page
    assert "Mes sessions de formation" not in page  # no learner section for a trainer only


async def test_the_attendance_sheet_names_each_slots_trainers(client):
    import io

    from pypdf import PdfReader

    session, morning, afternoon, _, _ = await _trained_session()
    await _trainer(session.id, [afternoon])
    names = {s: [f"{r['first']} {r['last']}" for r in await SlotTrainer.select(
        SlotTrainer.user.first_name.as_alias("first"), SlotTrainer.user.last_name.as_alias("last")).where(
        SlotTrainer.slot == s)] for s in (morning, afternoon)}
    await login(client, "alp001.get")
    response = await client.get(f"/sessions/{session.id}/emargement.pdf")
    assert response.status_code == 200
    pages = [re.sub(r"\s+", " ", p.extract_text()) for p in PdfReader(io.BytesIO(response.content)).pages]
    assert f"Formateur(s) : {names[morning][0]}" in pages[0] and names[afternoon][0] not in pages[0]
    assert f"Formateur(s) : {names[afternoon][0]}" in pages[1]


async def test_a_large_sheet_made_by_its_job_names_the_trainers_too(client, run_jobs, monkeypatch):
    from app.services import attendance
    from tests.controllers.test_attendance import _sheet_link, pdf_pages

    monkeypatch.setattr(attendance, "SHEET_INLINE_MAX_ROWS", 1)
    session, morning, afternoon, trainer_id, _ = await _trained_session()
    name = " ".join((await User.select(User.first_name, User.last_name).where(User.id == trainer_id).first()).values())
    await login(client, "alp001.get")
    started = await post_form(client, f"/sessions/{session.id}/emargement")
    assert started.status_code == 303
    await run_jobs()
    done = await client.get(started.headers["location"])
    pages = pdf_pages((await client.get(_sheet_link(done.text))).content)
    assert f"Formateur(s) : {name}" in pages[0] and f"Formateur(s) : {name}" in pages[1]  # the afternoon: all



async def test_a_closed_slots_trainers_stay_those_of_its_signed_sheet(client):
    """After the closing, the slots × trainers table leaves the slot as it was (no box offered, a
    posted one ignored), and a trainer of that slot can no longer be taken off the session."""
    closed = await closed_slot(learners=1)
    await SlotTrainer.insert(SlotTrainer(slot=closed.slot_id, user=closed.trainer_id))  # as the closing writes
    newcomer = await factories.trainer(closed.session_id)
    await login(client, "alp001.get")
    url = f"/sessions/{closed.session_id}/formateurs"
    page = (await client.get(url)).text
    assert f'value="{closed.slot_id}:{newcomer}"' in page and "disabled" in page.split(f'value="{closed.slot_id}:{newcomer}"')[1][:40]

    await post_form(client, url, {"action": "assign", "assign": [f"{closed.slot_id}:{newcomer}"]})
    assert {r["user"] for r in await SlotTrainer.select().where(SlotTrainer.slot == closed.slot_id)} == {closed.trainer_id}

    await SlotClosure.update({SlotClosure.closed_by: None}).where(SlotClosure.id == closed.closure_id)
    refused = await post_form(client, url, {"action": "remove", "trainer": closed.trainer_id}, follow_redirects=True)
    assert "a animé un créneau clôturé de cette session" in text(refused.text)
    assert await SessionTrainer.exists().where(
        (SessionTrainer.session == closed.session_id) & (SessionTrainer.user == closed.trainer_id))
    gone = await post_form(client, url, {"action": "remove", "trainer": newcomer}, follow_redirects=True)
    assert gone.status_code == 200
    assert not await SessionTrainer.exists().where(SessionTrainer.user == newcomer)


async def test_a_learner_of_the_session_is_not_made_its_trainer(client):
    """They would mark and countersign their own presence (the hostile probe, issue 22)."""
    est = await _est("ALP001")
    session = await factories.session_with_learners(est, learners_count=1, slots=1)
    learner = await User.select(User.username).where(User.id == session.learners[0]).first()
    await login(client, "alp001.get")
    refused = await post_form(client, f"/sessions/{session.id}/formateurs", {"action": "add", "account": learner["username"]})
    assert refused.status_code == 422 and LEARNER_OF_SESSION in text(refused.text)
    assert not await SessionTrainer.exists().where(SessionTrainer.session == session.id)


async def test_a_learners_session_page_names_its_trainers(client):
    alp001 = await _est("ALP001")
    session = await factories.session_with_learners(alp001, learners_count=1, start=today())
    learner_id = session.learners[0]
    await User.update({User.password_hash: hash_password(DEMO_PASSWORD)}).where(User.id == learner_id)
    trainer_id, _ = await _trainer(session.id)
    trainer = await User.select(User.first_name, User.last_name).where(User.id == trainer_id).first()
    await login(client, await _username(learner_id))
    page = text((await client.get(f"/mes-sessions/{session.id}/")).text)
    assert re.search(r"Formateur .*" + re.escape(trainer["last_name"]), page), page
