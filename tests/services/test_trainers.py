"""Trainers (issue 22) in the documents: who trains a slot and a session as the documents name them
(a slot's own trainers, else every trainer of the session), the convocation mailed to a learner (PDF
and text « Formateur(s) : … »), and the demo's trainer with a session of today."""

from app.dates import today
from app.services import convocations, trainers
from app.services.auth import load_current_user
from app.services.scope import establishment_scope, manageable_user_ids
from app.tables.accounts import RoleAssignment, User
from app.tables.catalogue import SessionSlot, TrainingSession
from app.tables.evidence import SessionTrainer, SlotTrainer
from app.tables.learning import Enrolment
from app.tables.org import Establishment
from tests import factories
from tests.services.test_certificates import pdf_text


async def _est(code: str = "ALP001") -> int:
    return (await Establishment.select(Establishment.id).where(Establishment.code == code).first())["id"]


async def _name(user_id: int) -> str:
    row = await User.select(User.first_name, User.last_name).where(User.id == user_id).first()
    return f"{row['first_name']} {row['last_name']}"


async def _slots(session_id: int) -> list[int]:
    return [r["id"] for r in await SessionSlot.select(SessionSlot.id).where(SessionSlot.session == session_id).order_by(
        SessionSlot.day).order_by(SessionSlot.starts)]


async def test_documents_name_a_slots_own_trainers_else_the_sessions(demo):
    session = await factories.session_with_learners(await _est(), learners_count=0, slots=3)
    first, second, third = await _slots(session.id)
    anne = await factories.trainer(session.id, [first])
    bob = await factories.trainer(session.id, [first, second])
    named = await trainers.name_slot_trainers([{"id": first}, {"id": second}, {"id": third}, {}])
    assert named[0]["trainers"] == sorted([await _name(anne), await _name(bob)])
    assert named[1]["trainer_names"] == await _name(bob)
    assert named[2]["trainers"] == sorted([await _name(anne), await _name(bob)])  # none of its own: all
    assert named[3] == {}  # the undated page of a session without slots
    assert (await trainers.session_trainer_names([session.id]))[session.id] == sorted([await _name(anne), await _name(bob)])

    # A trainer of the session given none of its slots (each has its own) is not named.
    only_first = await factories.session_with_learners(await _est(), learners_count=0, slots=1)
    (slot,) = await _slots(only_first.id)
    carl = await factories.trainer(only_first.id, [slot])
    await factories.trainer(only_first.id, [])
    await SessionTrainer.insert(SessionTrainer(session=only_first.id, user=anne))
    await SlotTrainer.insert(SlotTrainer(slot=slot, user=anne))
    names = await trainers.session_trainer_names([only_first.id])
    assert names[only_first.id] == sorted([await _name(anne), await _name(carl)])
    # A session without slots: all its trainers.
    bare = await factories.session_with_learners(await _est(), learners_count=0, slots=0)
    dana = await factories.trainer(bare.id)
    assert (await trainers.session_trainer_names([bare.id]))[bare.id] == [await _name(dana)]


async def test_the_convocation_names_the_trainers(demo):
    session = await factories.session_with_learners(
        await _est(), learners_count=1, slots=2, place="Salle Rhône", contact="Claire Martin")
    trainer = await factories.trainer(session.id)
    enrolment = next(iter(session.enrolments.values()))
    f = (await convocations.facts([enrolment]))[enrolment]
    subject, body = convocations.mail_text("convocation", f)
    assert f"Formateur(s) : {await _name(trainer)}" in body
    content = pdf_text(await convocations.render_pdf(f))
    assert "Formateur(s)" in content and await _name(trainer) in content
    # Without trainers, the convocation says nothing of them.
    untrained = await factories.session_with_learners(await _est(), learners_count=1, slots=1, place="Salle")
    other = next(iter(untrained.enrolments.values()))
    f = (await convocations.facts([other]))[other]
    assert "Formateur" not in convocations.mail_text("convocation", f)[1]
    assert "Formateur" not in pdf_text(await convocations.render_pdf(f))


async def test_the_demo_has_a_trainer_with_a_session_of_today(clean):
    from app.demo import DEMO_TRAINER, load_demo

    await load_demo()
    trainer = await User.select().where(User.username == DEMO_TRAINER[0]).first()
    assert trainer["external"] is True and trainer["establishment"] is None
    assert [r["role"] for r in await RoleAssignment.select(RoleAssignment.role).where(
        RoleAssignment.user == trainer["id"])] == ["trainer"]
    trained = [r["session"] for r in await SessionTrainer.select(SessionTrainer.session).where(
        SessionTrainer.user == trainer["id"])]
    # Today's; and the two finished sessions of issue 23 (their BPF frame E and survey results).
    (session,) = await TrainingSession.select().where(TrainingSession.id.is_in(trained) & (TrainingSession.start_date == today()))
    assert len(trained) == 3
    assert session["start_date"] == today() and session["discussion_block"]
    (slot,) = await SessionSlot.select().where(SessionSlot.session == session["id"])
    assert slot["day"] == today() and slot["starts"].hour <= 8 and slot["ends"].hour >= 18
    assert await Enrolment.count().where((Enrolment.session == session["id"]) & (Enrolment.active == True)) >= 5  # noqa: E712
    home = await trainers.home(trainer["id"])
    assert [s["id"] for s in home["slots"]] == [slot["id"]] and home["slots"][0]["is_today"]


async def test_a_gets_agent_who_trains_stays_theirs_unless_they_train_elsewhere(demo):
    """The trainer grant alone does not take an agent out of their GET's hands (they may still edit,
    suspend or reset the account); training a session of another establishment does — a new password
    would open that session to whoever set it."""
    alp001, dam001 = await _est("ALP001"), await _est("DAM001")
    agent = (await factories.learners(alp001, 1, prefix="agentform"))[0]
    home = await factories.session_with_learners(alp001, learners_count=0, slots=1)
    elsewhere = await factories.session_with_learners(dam001, learners_count=0, slots=1)
    get_id = (await User.select(User.id).where(User.username == "alp001.get").first())["id"]
    manager = await load_current_user(get_id)
    assert (await establishment_scope(manager)).allows(alp001)

    await RoleAssignment.insert(RoleAssignment(user=agent, role="trainer"))
    await SessionTrainer.insert(SessionTrainer(session=home.id, user=agent))
    assert await manageable_user_ids(manager, [agent]) == {agent}

    await SessionTrainer.insert(SessionTrainer(session=elsewhere.id, user=agent))
    assert await manageable_user_ids(manager, [agent]) == set()
