"""Issue 20 point 20: the two-list selectors (enrol, cohort members) showed only the name and the
username; three "J. Martin" differed only by a suffix. They show the e-mail and the matricule, as
Moodle's selector does, and a matricule finds its person."""

from datetime import date

from app.services.text import user_text_fields
from app.tables.accounts import RoleAssignment, User
from app.tables.catalogue import TrainingSession
from app.tables.cohorts import Cohort
from app.tables.org import Establishment
from tests.helpers import login, post_form

MARTINS = [("alp001.j.martin", "jeanne.martin@chu.example.org", "000411"),
           ("alp001.j.martin2", "julien.martin@chu.example.org", "000522"),
           ("alp001.j.martin3", "alp001.j.martin3.fictif@fictif.example.org", "000633")]


async def three_martins() -> tuple[int, int, int]:
    """Three « J. Martin » learners of ALP001, a session and the cohort of ALP001."""
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    for username, email, matricule in MARTINS:
        first = "Jeanne" if "jeanne" in email else "Julien" if "julien" in email else "Jules"
        row = await User.insert(User(username=username, password_hash="x", first_name=first, last_name="Martin",
                                     email=email, matricule=matricule, establishment=alp001,
                                     **user_text_fields(first, "Martin", username, email))).returning(User.id)
        await RoleAssignment.insert(RoleAssignment(user=row[0]["id"], role="learner", establishment=alp001))
    session = await TrainingSession.insert(TrainingSession(
        establishment=alp001, full_name="Session Martin", short_name="SM", start_date=date(2027, 3, 1),
        end_date=date(2027, 3, 2), code="27X00S1")).returning(TrainingSession.id)
    cohort = await Cohort.select(Cohort.id).where(Cohort.establishment == alp001).first()
    return alp001, session[0]["id"], cohort["id"]


async def test_the_selectors_tell_homonyms_apart_by_email_and_matricule(client):
    _, session_id, cohort_id = await three_martins()
    await login(client, "alp001.get")
    for url in (f"/sessions/{session_id}/inscriptions?q_potential=martin", f"/cohortes/{cohort_id}/membres?q_potential=martin"):
        page = (await client.get(url)).text
        assert "Jeanne Martin (alp001.j.martin) · jeanne.martin@chu.example.org · matricule 000411" in page
        assert "Julien Martin (alp001.j.martin2) · julien.martin@chu.example.org · matricule 000522" in page
        # A fictitious address is no address: not shown.
        assert "Jules Martin (alp001.j.martin3) · matricule 000633" in page and ".fictif@" not in page
    # Searching by matricule finds the one person; once added, the left list shows them the same way.
    page = (await client.get(f"/sessions/{session_id}/inscriptions?q_potential=522")).text
    assert "alp001.j.martin2" in page and "alp001.j.martin)" not in page and "alp001.j.martin3" not in page
    julien = await User.select(User.id).where(User.username == "alp001.j.martin2").first()
    response = await post_form(client, f"/sessions/{session_id}/inscriptions", {"go": "add", "add": julien["id"]})
    assert response.status_code in (200, 303)
    page = (await client.get(f"/sessions/{session_id}/inscriptions")).text
    assert page.count(">Julien Martin (alp001.j.martin2) · julien.martin@chu.example.org · matricule 000522") == 1


async def test_a_line_cut_by_the_list_width_is_whole_in_its_tooltip(client):
    """Issue 20's screenshot pass: at 1366 px a line (name, username, e-mail, matricule, method) is
    wider than its list and the matricule was cut; each option carries the whole line as its title."""
    _, session_id, cohort_id = await three_martins()
    await login(client, "alp001.get")
    line = "Jeanne Martin (alp001.j.martin) · jeanne.martin@chu.example.org · matricule 000411"
    for url in (f"/sessions/{session_id}/inscriptions?q_potential=martin", f"/cohortes/{cohort_id}/membres?q_potential=martin"):
        assert f'title="{line}">{line}</option>' in (await client.get(url)).text
    jeanne = await User.select(User.id).where(User.username == "alp001.j.martin").first()
    await post_form(client, f"/sessions/{session_id}/inscriptions", {"go": "add", "add": jeanne["id"]})
    page = (await client.get(f"/sessions/{session_id}/inscriptions")).text
    assert f'title="{line} — manuelle">{line} — manuelle</option>' in page
