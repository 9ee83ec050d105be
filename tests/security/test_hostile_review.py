"""A hostile review of the recent routes: what an attacker sends that the authors' tests did not.
Each test fails without its fix (see the commit that brings it)."""

import re

from app.tables.accounts import User
from app.tables.learning import QuizAttempt
from tests.controllers.test_learner_space import _setup
from tests.helpers import login, post_form, text

BIG = "99999999999999999999"  # beyond any integer column (int32 ids, int64 too)


async def test_a_forged_next_never_sends_the_user_to_another_site(client):
    """Browsers read "/\\evil.example" as "//evil.example": an "Annuler" link or an htmx redirect
    (HX-Redirect is not quoted) built from ?next= would leave the site."""
    await login(client, "alp001.get")
    target = (await User.select(User.id).where(User.username.like("alp001.%")).where(User.username != "alp001.get")
              .first())["id"]
    for forged in ("/\\evil.example", "/\\/evil.example", "/\t/evil.example", "/\n/evil.example"):
        page = await client.get(f"/utilisateurs/{target}/modifier", params={"next": forged})
        assert page.status_code == 200
        assert "evil.example" not in page.text, repr(forged)
        moved = await post_form(client, "/connexion", {"username": "x", "password": "y", "next": forged})
        assert "evil.example" not in moved.text
        back = await client.get("/connexion", params={"next": forged})
        assert "evil.example" not in (back.headers.get("location") or "")
    # A real same-site path still works.
    page = await client.get(f"/utilisateurs/{target}/modifier", params={"next": "/utilisateurs?q=a"})
    assert 'href="/utilisateurs?q=a"' in page.text


async def test_ids_beyond_the_integer_range_get_the_invalid_value_page_never_a_500(client):
    session, act, me = await _setup()
    await login(client, "alp001.get")
    sid = session["id"]
    for url in (f"/sessions/{BIG}/", f"/sessions/{sid}/progression/{BIG}", f"/attestations/{BIG}",
                f"/sessions/{sid}/progression/?cohort={BIG}", f"/sessions/{sid}/progression/?page={BIG}",
                f"/sessions/{sid}/progression/?export=csv&which=selected&selected={BIG}",
                f"/analytique?template=999999999999", f"/analytique/inscrits?establishment={BIG}",
                f"/utilisateurs?establishment={BIG}"):
        response = await client.get(url)
        # A path id: a missing page (404); a query filter: ignored like any value that is no id
        # (issue 19: one parser, app/numbers.py), or refused (400).
        assert response.status_code in ((400, 404) if "?" not in url else (200, 400, 404, 422)), f"{url}: {response.status_code}"
        assert "Erreur interne" not in response.text and "Tremplin" in response.text
    response = await post_form(client, f"/sessions/{sid}/progression/{me['id']}", {"activity": BIG, "done": "1"})
    assert response.status_code == 404  # an id past int4 is no activity, like any forged id
    assert "Activité introuvable" in text(response.text)


async def test_forged_quiz_answers_and_start_times_are_ignored_not_a_500(client):
    session, act, me = await _setup()
    await login(client, me["username"])
    quiz = f"/mes-sessions/{session['id']}/activites/{act['quiz']['id']}/test"
    # "²" passes str.isdigit() but not int(); a start time beyond time_t overflows fromtimestamp.
    refused = await post_form(client, quiz, {"q0": "²", "q1": "0", "q2": "0"})
    assert refused.status_code == 422 and "Répondez à toutes les questions." in text(refused.text)
    assert (await post_form(client, quiz, {"q²": "0", "q0": "0", "q1": "0", "q2": "0"})).status_code == 303
    for started in (BIG, "²", "-5"):
        response = await post_form(client, quiz, {"q0": "0", "q1": "0", "q2": "0", "started": started})
        assert response.status_code == 303, started
    attempts = await QuizAttempt.select(QuizAttempt.started_at).where(QuizAttempt.enrolment == me["id"])
    assert len(attempts) == 4 and all(a["started_at"] is None for a in attempts)


async def test_the_public_wizard_refuses_a_forged_mandate_year_with_a_message(client):
    from tests.controllers.test_registration import _answers, _session

    await _session()
    await post_form(client, "/inscription/", {"code": "26C03S1", "action": "new"})
    answers = await _answers()
    for step in (2, 3, 4):
        assert (await post_form(client, f"/inscription/etape/{step}", {**answers[step], "go": "next"})).status_code == 303
    response = await post_form(client, "/inscription/etape/5", {**answers[5], "mandate_year": "²⁰²⁰", "go": "next"})
    assert response.status_code == 422 and "Année invalide" in text(response.text)


async def test_a_certificate_of_a_learner_named_with_oe_downloads(client, new_client):
    """« œ » is not Latin-1: written as is in Content-Disposition, it failed the download (500) for
    the managers and for the learner alike."""
    from urllib.parse import unquote

    from app.services import certificates
    from tests.services.test_certificates import completed_session

    session_id, activities, learners, enrolments = await completed_session(learners_count=1, complete=1)
    await User.update({User.last_name: "Lœuvre"}).where(User.id == learners[0])
    await login(client, "alp001.get")
    certificate = await certificates.for_enrolment(enrolments[learners[0]])
    assert (await post_form(client, f"/attestations/{certificate['id']}/reemettre")).status_code == 303
    certificate = await certificates.for_enrolment(enrolments[learners[0]])
    response = await client.get(f"/attestations/{certificate['id']}")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "Lœuvre" in unquote(disposition.split("filename*=UTF-8''")[1])
    assert response.headers["x-content-type-options"] == "nosniff"
    async with new_client() as learner:
        await login(learner, (await User.select(User.username).where(User.id == learners[0]).first())["username"])
        mine = await learner.get(f"/mes-sessions/{session_id}/attestation")
        assert mine.status_code == 200 and mine.content.startswith(b"%PDF")


async def test_every_post_route_refuses_a_form_without_its_csrf_token(app, client):
    """Walks every POST route of the app (public ones too), logged in as an administrator: without
    the token (or with another session's), the French 403 and nothing else."""
    await login(client, "admin")
    walked = 0
    for route in app.routes:
        if "POST" not in route.methods or route.path.startswith("/static"):
            continue
        url = re.sub(r"{(\w+):str}", "x" * 22, re.sub(r"{(\w+):int}", "1", route.path))
        for headers, data in (({}, {"code": "X"}), ({"x-csrftoken": "forged"}, {"_csrf_token": "forged"})):
            response = await client.post(url, data=data, headers=headers)
            assert response.status_code == 403, f"POST {route.path}: {response.status_code}"
            assert "jeton de sécurité invalide" in text(response.text)
        walked += 1
    assert walked > 50


async def test_other_roles_reach_nothing_by_id_either(app, client, new_client):
    """test_scope walks every id-taking route as a GET and a GED; here as a registration manager
    (everything but their back office refused), a learner of the establishment the ids belong to,
    and an anonymous visitor (sent to the login page)."""
    from tests.controllers.test_scope import FOREIGN, _foreign_ids, _routes_with_ids

    ids = await _foreign_ids()
    learner = (await User.select(User.username).where(User.id == ids["dam_learner"]).first())["username"]
    for who in ("inscriptions", learner, None):
        async with new_client() as browser:
            if who:
                await login(browser, who)
            for method, path, params in _routes_with_ids(app):
                if who == "inscriptions" and path.startswith("/gestion-inscriptions"):
                    continue
                url = path
                for name in params:
                    url = re.sub(r"{%s:\w+}" % name, str(FOREIGN[name](ids)), url)
                response = await (browser.get(url) if method == "GET" else post_form(
                    browser, url, {"code": "HACK", "name": "Piraté", "body": "Piraté", "reason": "Piraté"}))
                expected = (303,) if who is None else (403, 404)
                assert response.status_code in expected, f"{who} {method} {url}: {response.status_code}"
                if who is None:
                    assert response.headers["location"].startswith("/connexion?next=")


async def test_uploaded_files_are_never_served_as_a_page(client):
    """Stored XSS through an activity file: SVG and HTML are refused whatever their name; a polyglot
    (PNG magic, HTML after) is served as an image with nosniff; a traversal name is kept harmless."""
    from urllib.parse import unquote

    import pytest

    from app.services import files
    from app.services.errors import ValidationFailed
    from app.tables.catalogue import SessionActivity

    for name, content in (("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
                          ("page.png", b"<html><script>alert(1)</script>"), ("a.html", b"<!doctype html><p>x")):
        with pytest.raises(ValidationFailed):
            await files.store(name, content, None)
    session, act, me = await _setup()
    polyglot = b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>"
    file_id = await files.store('..\\..//etc/passwd"; x=.html', polyglot, None)
    await SessionActivity.update({SessionActivity.file: file_id}).where(SessionActivity.id == act["page"]["id"])
    await login(client, me["username"])
    response = await client.get(f"/mes-sessions/{session['id']}/activites/{act['page']['id']}/fichier")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("inline;") and "/" not in unquote(disposition) and '\\' not in disposition
    assert disposition.count('"') == 2  # the quoted ASCII name cannot be broken out of
