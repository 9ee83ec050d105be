"""Issue 19.2: control characters are folded when a form is read (app/http/forms.py, once for every
form): a single-line field (a session's title) loses its CR/LF, which showed as separate lines in the
convocation mails' bodies; a textarea (``Multiline``) keeps its line breaks and loses the rest."""

import dataclasses
import importlib
import pkgutil
import re
import typing
from datetime import timedelta
from pathlib import Path

import app
from app.dates import today
from app.services.enrolments import add_sources
from app.services.text import Multiline
from app.tables.catalogue import TrainingSession
from app.tables.learning import SourceKind
from tests.helpers import login, post_form
from tests.services.test_convocations import learners, make_session, run_jobs  # noqa: F401 (fixture)


async def test_a_title_with_line_breaks_stays_on_one_line_in_the_convocation_mail(client, smtp, run_jobs):  # noqa: F811
    session_id = await make_session()
    await login(client, "alp001.get")
    start = today() + timedelta(days=20)
    saved = await post_form(client, f"/sessions/{session_id}/parametres", {
        "start_date": start.isoformat(), "end_date": (start + timedelta(days=1)).isoformat(),
        "full_name": "Qualité de vie\r\nau travail\u2028\x1b[31m", "short_name": "QVT\t2", "visible": "1",
        "code": "26C03S9", "auto_convocations": "1",
        "place": "Salle Rhône\r\n12 rue des Lilas\x00\x07, 26170 Buis", "what_to_bring": "Stylo\rCahier"})
    assert saved.status_code == 303
    row = await TrainingSession.select().where(TrainingSession.id == session_id).first()
    assert row["full_name"] == "Qualité de vie au travail [31m" and row["short_name"] == "QVT 2"
    assert row["place"] == "Salle Rhône\n12 rue des Lilas , 26170 Buis"  # the textarea keeps its lines
    assert row["what_to_bring"] == "Stylo\nCahier"
    await add_sources(session_id, await learners(count=1), SourceKind.manual)
    await run_jobs()
    (_, message), = smtp.messages
    body = message.get_body(("plain",)).get_content()
    lines = body.splitlines()
    assert any("« Qualité de vie au travail [31m »" in line for line in lines), body
    assert not any(line.startswith("au travail") for line in lines)
    assert "\x1b" not in body and "\x00" not in body


async def test_a_registration_textarea_keeps_its_lines_and_a_name_loses_them(client):
    from app.tables.registration import RegistrationRequest
    from tests.controllers.test_registration import _answers, _session

    await _session()
    await post_form(client, "/inscription/", {"code": "26C03S1", "action": "new"})
    answers = await _answers()
    for step in (2, 3):
        assert (await post_form(client, f"/inscription/etape/{step}", {**answers[step], "go": "next"})).status_code == 303
    step4 = {**answers[4], "last_name": "Dupont\r\nX-Header: 1", "first_name": "Jean\u202egnaJ",
             "expectations": "Un\r\nDeux\x00\n\u2067Trois\u2069"}
    assert (await post_form(client, "/inscription/etape/4", {**step4, "go": "next"})).status_code == 303
    row = await RegistrationRequest.select(RegistrationRequest.last_name, RegistrationRequest.first_name,
                                           RegistrationRequest.expectations).first()
    assert row["last_name"] == "Dupont X-Header: 1" and row["expectations"] == "Un\nDeux \n Trois"
    assert row["first_name"] == "Jean gnaJ"  # a bidirectional override shows nothing reversed


def _form_models():
    for info in pkgutil.walk_packages(app.__path__, "app."):
        if info.name.startswith(("app.controllers", "app.services")):
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                if dataclasses.is_dataclass(value) and isinstance(value, type) and value.__module__ == module.__name__:
                    yield value


def test_every_textarea_field_is_multiline_in_its_form_model():
    """A textarea whose model field is a plain ``str`` would have its lines folded into one."""
    templates = Path(app.__file__).parent / "templates"
    names = {m for p in templates.rglob("*.html") for m in re.findall(r'<textarea[^>]*\bname="(\w+)"', p.read_text())}
    assert {"place", "slots", "body", "expectations", "content"} <= names
    inputs = {"app.services.catalogue.TemplateForm.certificate_text",  # an <input> on its page
              "app.services.registration.forms.ActionForm.reason"}  # an <input> on the request's page
    wrong = []
    for model in _form_models():
        hints = typing.get_type_hints(model)
        for f in dataclasses.fields(model):
            kind = hints[f.name]
            args = [a for a in typing.get_args(kind) if a is not type(None)] or [kind]
            where = f"{model.__module__}.{model.__name__}.{f.name}"
            if f.name in names and args[0] is str and where not in inputs:
                wrong.append(where)
    assert wrong == []
    assert typing.get_type_hints(__import__("app.services.sessions", fromlist=["x"]).SessionForm)["place"] \
        == Multiline | None


def test_bidirectional_controls_leave_file_names_and_survey_answers_too():
    from app.services.files import safe_name
    from app.services.surveys.questions import clean_text

    assert safe_name("rapport\u202efdp.exe") == "rapport_fdp.exe"  # never shown as « rapportexe.pdf »
    assert safe_name("C:\\dossier\\bulletin \u2066x\u2069.pdf") == "bulletin _x_.pdf"
    assert clean_text("Très bien\u202e !\r\nMerci\t\u2067") == "Très bien !\nMerci\t"
