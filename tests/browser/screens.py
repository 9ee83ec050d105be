"""Every screen of the app, for the accessibility walk (issue 25): each GET route of the app is either
walked (by the role that uses it, its path parameters filled from the full demo data) or excluded
with its reason (a PDF, a download, a fragment, a redirect-only route). A route added later fails
tests/browser/test_axe.py::test_every_get_route_is_walked_or_excluded until it is put in one or the
other.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta

from app import db
from app.dates import today
from app.services import outbox
from app.services import progress
from app.services.bpf import compute, reports
from app.services.certificates.common import new_code
from app.services.registration import BI_CATEGORY, request_key
from app.services.registration.draft import RESUME_SALT, _key_digest
from app.services.registration.links import signer
from app.services.signing import window
from app.services.surveys.links import FINANCER_SALT, LEARNER_SALT, make_token
from app.tables.accounts import RoleAssignment, User
from app.tables.catalogue import CourseTemplate, SessionActivity, SessionSlot, TemplateActivity, TrainingSession
from app.tables.certificates import Certificate
from app.tables.cohorts import Cohort
from app.tables.evidence import SlotClosure
from app.tables.imports import ImportBatch, ImportRow
from app.tables.jobs import JobRun
from app.tables.learning import Enrolment
from app.tables.org import Delegation, Establishment
from app.tables.privacy import ErasureRequest
from app.tables.quality import FinancerInvitation, FinancerSurvey, SurveyInvitation
from app.tables.registration import Organisation, RegistrationRequest

# Who walks a route, from its ``roles`` option: the least powerful role that uses it (the pages
# shared by the managers are walked as a GET; registration pages as the registration manager).
ROLES_WALKER = {
    ("admin",): "admin", ("admin", "operations"): "admin", ("admin", "ged"): "ged",
    ("admin", "ged", "get"): "get", ("admin", "registration_manager"): "registration_manager",
}
USERS = {"admin": "admin", "ged": "ged.alp", "get": "alp001.get", "registration_manager": "inscriptions",
         "tester": "testeur", "trainer": "ext.c.formatrice"}  # "learner": found in the data

# Routes without a ``roles`` option (any logged-in person, or public with a token): who walks them.
OTHER_WALKERS = {
    "/": "get", "/mot-de-passe": "learner", "/taches/{token:str}": "admin",
    "/sessions/{session_id:int}": "get", "/mes-sessions/{session_id:int}": "learner",
    "/mes-sessions/{session_id:int}/activites/{activity_id:int}": "learner",
    "/mes-sessions/{session_id:int}/questionnaires/{activity_id:int}": "alumnus",
    "/creneaux/{slot_id:int}/emargement": "trainer", "/signer/{slot_id:int}": "learner",
    "/formateur/sessions/{session_id:int}": "trainer", "/mes-donnees": "learner",
}

# Not pages: what they answer, and where the page that offers them is walked.
EXCLUDED = {
    "/exports/{token:str}": "a download (CSV/XLSX) of a finished export",
    "/mes-donnees/{token:str}": "ZIP download (« Mes données »)",
    "/utilisateurs/verifier-nom": "htmx fragment of the account form (walked inside it)",
    "/utilisateurs/suggestion": "htmx fragment of the account form (walked inside it)",
    "/mes-sessions/{session_id:int}/activites/{activity_id:int}/fichier": "an activity's file (download)",
    "/attestations/{certificate_id:int}": "PDF",
    "/attestations/zip/{token:str}": "ZIP download",
    "/mes-sessions/{session_id:int}/attestation": "PDF",
    "/sessions/{session_id:int}/convocations/{user_id:int}/invitation.ics": "iCalendar",
    "/sessions/{session_id:int}/convocations/{user_id:int}/convocation.pdf": "PDF",
    "/mes-sessions/{session_id:int}/convocation.pdf": "PDF",
    "/mes-sessions/{session_id:int}/invitation.ics": "iCalendar",
    "/sessions/{session_id:int}/emargement.pdf": "PDF",
    "/sessions/{session_id:int}/emargement/{token:str}": "PDF download",
    "/creneaux/{slot_id:int}/feuille-signee.pdf": "PDF",
    "/creneaux/{slot_id:int}/emargement/liste": "htmx fragment of the slot's émargement page",
    "/creneaux/{slot_id:int}/emargement/qr": "htmx fragment (the QR code) of the émargement page",
    "/gestion-inscriptions/emails/{mail_id:int}/pieces/{attachment_id:int}": "a mail's attachment (PDF)",
    "/gestion-inscriptions/test-pdf": "PDF",
    "/gestion-inscriptions/demandes/{request_id:int}/bulletin.pdf": "PDF",
    "/ops/metrics": "Prometheus text",
    "/healthz": "plain text",
    "/bpf/{year:int}/elus.xlsx": "XLSX",
    "/bpf/{year:int}/bpf.xlsx": "XLSX",
    "/bpf/{year:int}/calcul/{token:str}": "a redirect to /bpf (walked)",
    "/inscription/etape/{step:int}": "walked step by step by the wizard flow (test_axe.py)",
    "/inscription/envoyee": "walked at the end of the wizard flow (test_axe.py)",
    "/indicateurs/{code:str}/encart": "walked as an extra (an HTML fragment for an iframe)",
}

# A path parameter's value: the key in ``ids`` (overridden per route below).
PARAMS = {
    "delegation_id": "ALP", "establishment_id": "ALP001", "assignment_id": "get_grant", "user_id": "learner",
    "batch_id": "batch", "template_id": "C03", "activity_id": "session_activity", "session_id": "finished",
    "enrolment_id": "finished_enrolment", "cohort_id": "cohort", "certificate_id": "certificate",
    "slot_id": "today_slot", "mail_id": "mail", "org_id": "organisation", "kind": "kind", "request_id": "request",
    "action": "action", "run_id": "run", "year": "year", "key": "figure", "item": "missing",
    "code": "certificate_code", "token": None,
}
OVERRIDES = {
    "/catalogue/{template_id:int}/activites/{activity_id:int}": {"activity_id": "template_activity"},
    "/mes-sessions/{session_id:int}": {"session_id": "in_progress"},
    "/mes-sessions/{session_id:int}/activites/{activity_id:int}": {"session_id": "in_progress",
                                                                   "activity_id": "in_progress_activity"},
    "/mes-sessions/{session_id:int}/questionnaires/{activity_id:int}": {"activity_id": "survey_activity"},
    "/formateur/sessions/{session_id:int}": {"session_id": "today"},
    "/verifier/emargement/{code:str}": {"code": "closure_code"},
    "/indicateurs/{code:str}": {"code": "C03_code"},
    "/catalogue/questionnaires/financeurs/{year:int}": {"year": "financer_year"},
    "/inscription/{code:str}": {"code": "open_code"},
    "/taches/{token:str}": {"token": "job_token"},
    "/admin/donnees/suppressions/{request_id:int}": {"request_id": "erasure_request"},
    "/inscription/confirmer/{token:str}": {"token": "confirm_token"},
    "/inscription/suivi/{token:str}": {"token": "follow_token"},
    "/inscription/suivi/{token:str}/annuler": {"token": "follow_token"},
    "/inscription/reprendre/{token:str}": {"token": "resume_token"},
    "/s/{slot_id:int}/{token:str}": {"token": "qr_token"},
    "/questionnaire/{token:str}": {"token": "survey_token"},
    "/enquete-financeurs/{token:str}": {"token": "financer_token"},
    "/gestion-inscriptions/etablissements/{org_id:int}/fusionner/confirmer": {},
}
QUERIES = {"/gestion-inscriptions/etablissements/{org_id:int}/fusionner/confirmer": "?duplicate={duplicate}"}

# Screens a route list does not reach: other roles' views of shared pages, error pages.
EXTRAS = [
    ("admin", "/"), ("ged", "/"), ("registration_manager", "/"), ("tester", "/"), ("trainer", "/"),
    ("learner", "/"), ("alumnus", "/mes-sessions/{finished}"), ("admin", "/utilisateurs"), ("ged", "/analytique"), ("admin", "/sessions/{finished}"),
    ("tester", "/inscription/{open_code}"), ("anonymous", "/indicateurs/{C03_code}/encart"),
    ("anonymous", "/page-inexistante"), ("get", "/admin/delegations"), ("learner", "/utilisateurs"),
]


@dataclass
class Screen:
    role: str
    route: str
    url: str


def get_routes(app) -> dict[str, dict]:
    """Every GET route of the app but static files: path → its handler's options."""
    found = {}
    for route in app.routes:
        if "GET" not in getattr(route, "methods", ()) or route.path.startswith("/static"):
            continue
        for handler in getattr(route, "route_handlers", []):
            if "GET" in handler.http_methods:
                found[route.path] = dict(handler.opt)
    return found


def walker(path: str, opt: dict) -> str:
    if opt.get("public") and path not in OTHER_WALKERS:
        return "anonymous"
    roles = opt.get("roles")
    if roles:
        return ROLES_WALKER[tuple(roles)]
    return OTHER_WALKERS[path]


def fill(path: str, ids: dict) -> str:
    """The route's path with its parameters taken from ``ids``."""
    names = OVERRIDES.get(path, {})

    def value(match):
        name = match.group(1)
        found = ids[names.get(name) or PARAMS[name]]
        return str(found() if callable(found) else found)  # a token of the minute: made when visited

    return re.sub(r"{(\w+):\w+}", value, path) + QUERIES.get(path, "").format(**ids)


def screens(app, ids: dict) -> list[Screen]:
    """The walk: every GET route not excluded, then the extras; in role order."""
    walk = [Screen(walker(path, opt), path, path) for path, opt in get_routes(app).items() if path not in EXCLUDED]
    walk += [Screen(role, "extra", path.format(**ids)) for role, path in EXTRAS]
    return sorted(walk, key=lambda s: s.role)


async def _first(query, key="id"):
    row = await query.first()
    assert row is not None, f"the walk's data: nothing for {query}"
    return row[key]


async def demo_ids(redis) -> dict:
    """Ids of the full demo data (app.demo.load_demo()) plus what the demo lacks, for ``fill``."""
    ids = {r["code"]: r["id"] for r in await Establishment.select(Establishment.id, Establishment.code)}
    ids |= {r["code"]: r["id"] for r in await Delegation.select(Delegation.id, Delegation.code)}
    users = {r["username"]: r["id"] for r in await User.select(User.id, User.username)}
    ids["get_grant"] = await _first(RoleAssignment.select(RoleAssignment.id).where(
        RoleAssignment.user == users["alp001.get"]))
    ids["C03"] = await _first(CourseTemplate.select(CourseTemplate.id).where(CourseTemplate.code == "C03"))
    ids["C03_code"] = "C03"
    ids["template_activity"] = await _first(TemplateActivity.select(TemplateActivity.id).where(
        TemplateActivity.template == ids["C03"]))
    day = today()
    ids["today"] = await _first(TrainingSession.select(TrainingSession.id).where(
        (TrainingSession.start_date == day) & (TrainingSession.end_date == day)))
    ids["in_progress"] = await _first(TrainingSession.select(TrainingSession.id).where(
        (TrainingSession.start_date < day) & (TrainingSession.end_date > day)))
    ids["finished"] = await _first(TrainingSession.select(TrainingSession.id).where(
        (TrainingSession.end_date < day) & (TrainingSession.establishment == ids["ALP001"])).order_by(
        TrainingSession.end_date, ascending=False))
    open_session = await TrainingSession.select(TrainingSession.id, TrainingSession.code).where(
        TrainingSession.start_date > day).order_by(TrainingSession.start_date).first()
    ids["open"], ids["open_code"] = open_session["id"], open_session["code"]
    ids["qvt_code"] = (await TrainingSession.select(TrainingSession.code).where(
        (TrainingSession.start_date > day) & (TrainingSession.template == ids["C03"])).first())["code"]
    # The learner: enrolled in the session in progress, today's and the finished one if possible.
    enrolled = {}
    for key in ("in_progress", "today", "finished"):
        enrolled[key] = {r["user"] for r in await Enrolment.select(Enrolment.user).where(
            Enrolment.session == ids[key])}
    both = enrolled["in_progress"] & enrolled["today"]
    learner = min(both & enrolled["finished"] or both)
    ids["learner"] = learner
    ids["learner_username"] = (await User.select(User.username).where(User.id == learner).first())["username"]
    alumnus = await Enrolment.select(Enrolment.id, Enrolment.user.username.as_alias("username")).where(
        Enrolment.session == ids["finished"]).order_by(Enrolment.id).first()
    ids["finished_enrolment"], ids["alumnus_username"] = alumnus["id"], alumnus["username"]
    ids["session_activity"] = await _first(SessionActivity.select(SessionActivity.id).where(
        SessionActivity.session == ids["finished"]))
    ids["in_progress_activity"] = await _first(SessionActivity.select(SessionActivity.id).where(
        (SessionActivity.session == ids["in_progress"]) & (SessionActivity.kind == "page")))
    ids["survey_activity"] = await _first(SessionActivity.select(SessionActivity.id).where(
        (SessionActivity.session == ids["finished"]) & (SessionActivity.kind == "survey")))
    ids["cohort"] = await _first(Cohort.select(Cohort.id).where(Cohort.name == "Cohorte_Ex25"))
    certificate = await Certificate.select(Certificate.id, Certificate.code).first()
    ids["certificate"], ids["certificate_code"] = certificate["id"], certificate["code"]
    ids["today_slot"] = await _first(SessionSlot.select(SessionSlot.id).where(SessionSlot.session == ids["today"]))
    ids["qr_token"] = lambda: window.qr_token(ids["today_slot"])
    ids["kind"] = "funding_method"
    ids["year"] = reports.last_closed_year()
    ids["figure"], ids["missing"] = "f1.total", "templates"
    bpf, elus = await compute.compute(ids["year"], _no_progress)
    await reports.store(ids["year"], bpf, elus, users["admin"])
    ids |= await _registration_ids(ids)
    ids |= await _other_ids(ids, users, redis)
    ids["closure_code"] = (await SlotClosure.select(SlotClosure.code).first())["code"]
    return ids


async def _no_progress(done: int) -> None:
    return None


async def _registration_ids(ids: dict) -> dict:
    orgs = [r["id"] for r in await Organisation.select(Organisation.id).order_by(Organisation.id)]
    request = (await RegistrationRequest.insert(RegistrationRequest(
        reference="R26-AXE001", status="instance_validated", session=ids["open"], organisation=orgs[0],
        civility="Mme", first_name="Fanny", last_name="Lévêque", email="fanny@example.org", postal_code="26170",
        phone="06 12 34 56 78")).returning(RegistrationRequest.id))[0]["id"]
    draft = (await RegistrationRequest.insert(RegistrationRequest(
        reference="R26-AXE002", status="draft", session=ids["open"], civility="M", first_name="Paul",
        last_name="Durand", email="paul@example.org", draft_key="axe-key")).returning(RegistrationRequest.id))[0]["id"]
    sent = (await RegistrationRequest.insert(RegistrationRequest(
        reference="R26-AXE003", status="awaiting_confirmation", session=ids["open"], organisation=orgs[0],
        civility="M", first_name="Jean", last_name="Roux", email="jean@example.org", postal_code="26170",
        confirmation_nonce="axe-nonce")).returning(RegistrationRequest.id))[0]["id"]
    async with db.transaction():
        mail = await outbox.queue_mail(["mairie@example.org"], "Bulletin d'inscription R26-AXE001 à valider", "BI",
                                       category=BI_CATEGORY, group_key=request_key(request))
    return {"organisation": orgs[0], "duplicate": orgs[-1], "request": request, "action": "validate_operator",
            "confirm_token": signer("confirm").dumps({"id": sent, "nonce": "axe-nonce"}),
            "follow_token": signer("follow").dumps({"id": request}),
            "resume_token": signer(RESUME_SALT).dumps({"id": draft, "k": _key_digest("axe-key")}), "mail": mail}


async def _other_ids(ids: dict, users: dict, redis) -> dict:
    batch = (await ImportBatch.insert(ImportBatch(establishment=ids["ALP001"], filename="comptes.csv"))
             .returning(ImportBatch.id))[0]["id"]
    await ImportRow.insert(ImportRow(batch=batch, line=2, allowed=["create", "skip"]))
    run = (await JobRun.insert(JobRun(kind="import_accounts", job_key="axe:1", status="failed"))
           .returning(JobRun.id))[0]["id"]
    await progress.start(redis, "axe-job", users["admin"], "Export des utilisateurs", total=10)
    invitation = await SurveyInvitation.select(SurveyInvitation.id).first()
    survey = await FinancerSurvey.select(FinancerSurvey.id, FinancerSurvey.year).first() or (await FinancerSurvey.insert(FinancerSurvey(
        year=today().year, title="Questionnaire des financeurs", questions=json.dumps(
            [{"text": "Êtes-vous satisfait ?", "kind": "scale5"}]))).returning(FinancerSurvey.id, FinancerSurvey.year))[0]
    financer = (await FinancerInvitation.insert(FinancerInvitation(
        survey=survey["id"], organisation=ids["organisation"], email="mairie@example.org"))
        .returning(FinancerInvitation.id))[0]
    slot = await _first(SessionSlot.select(SessionSlot.id).where(SessionSlot.session == ids["finished"]))
    if not await SlotClosure.exists().where(SlotClosure.slot == slot):
        await SlotClosure.insert(SlotClosure(slot=slot, records_sha256="0" * 64, pdf_sha256="0" * 64,
                                             code=new_code()))
    erasure = (await ErasureRequest.insert(ErasureRequest(
        person=ids["learner"], person_label="Apprenant de la démo", email="apprenant@example.org",
        message="Je quitte l'établissement.")).returning(ErasureRequest.id))[0]["id"]
    return {"batch": batch, "run": run, "job_token": "axe-job", "financer_year": survey["year"],
            "erasure_request": erasure,
            "survey_token": make_token(LEARNER_SALT, invitation["id"]) if invitation else "x",
            "financer_token": make_token(FINANCER_SALT, financer["id"]),
            "week": today() + timedelta(days=7)}
