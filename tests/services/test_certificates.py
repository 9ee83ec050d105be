"""Certificates (issue 12, D3): issued in the completion's transaction, codes that catch typos,
the same PDF bytes from the snapshot, versions on revocation and re-issue."""

import hashlib
import io
import json
import re
from datetime import date

import pytest
from pypdf import PdfReader

from app.pdf.render import TAGGED
from app.services import certificates, learning
from app.services.enrolments import add_sources
from app.tables.accounts import RoleAssignment, User
from app.tables.catalogue import SessionActivity, TrainingSession
from app.tables.certificates import Certificate
from app.tables.learning import CompletionHow, Enrolment, SourceKind
from app.tables.org import Establishment
from tests.helpers import assert_tagged_pdf, pdf_accessibility


def pdf_text(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


async def completed_session(establishment="ALP001", learners_count=2, complete=1, text=""):
    """A session with two required activities; the first `complete` learners complete both."""
    est = (await Establishment.select(Establishment.id).where(Establishment.code == establishment).first())["id"]
    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=est, full_name="Session du 02-06-2026 au 03-06-2026_Qualité de vie au travail",
        short_name="QVT", start_date=date(2026, 6, 2), end_date=date(2026, 6, 3),
        code=f"26X{est:02d}S{learners_count}{complete}", certificate_text=text)).returning(TrainingSession.id))[0]["id"]
    activities = [a["id"] for a in await SessionActivity.insert(*[
        SessionActivity(session=session_id, position=i, kind="page", title=f"Activité {i}", required=True)
        for i in range(2)]).returning(SessionActivity.id)]
    learners = [r["user"] for r in await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == est)).order_by(
        RoleAssignment.user).limit(learners_count)]
    await add_sources(session_id, learners, SourceKind.manual)
    enrolments = {r["user"]: r["id"] for r in await Enrolment.select(Enrolment.id, Enrolment.user).where(
        Enrolment.session == session_id)}
    for user_id in learners[:complete]:
        for activity in activities:
            await learning.set_completion(enrolments[user_id], activity, True, CompletionHow.manual)
    return session_id, activities, learners, enrolments


@pytest.mark.smoke
async def test_the_certificate_is_issued_when_the_last_required_activity_is_done(demo):
    session_id, activities, learners, enrolments = await completed_session(complete=0)
    first = enrolments[learners[0]]
    await learning.set_completion(first, activities[0], True, CompletionHow.manual)
    assert not await Certificate.exists().where(Certificate.enrolment == first)  # not before completion
    await learning.set_completion(first, activities[1], True, CompletionHow.manual)
    rows = await Certificate.select().where(Certificate.enrolment == first)
    assert len(rows) == 1 and rows[0]["version"] == 1 and rows[0]["status"] == "valid"
    assert certificates.normalize_code(rows[0]["code"]) == rows[0]["code"]
    snapshot = json.loads(rows[0]["snapshot"]) if isinstance(rows[0]["snapshot"], str) else rows[0]["snapshot"]
    learner = await User.select().where(User.id == learners[0]).first()
    assert (snapshot["prenom"], snapshot["nom"]) == (learner["first_name"], learner["last_name"])
    assert (snapshot["date_debut"], snapshot["date_fin"]) == ("2 juin 2026", "3 juin 2026")
    # Marking again, or asking for it, issues nothing more.
    await learning.set_completion(first, activities[1], True, CompletionHow.manual)
    assert (await certificates.for_enrolment(first))["id"] == rows[0]["id"]
    assert await certificates.for_enrolment(enrolments[learners[1]]) is None  # not complete: none
    assert await Certificate.count() == 1


@pytest.mark.smoke
def test_codes_use_an_unambiguous_alphabet_and_a_check_character_catches_typos():
    codes = {certificates.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in list(codes)[:200]:
        assert len(code) == 10 and not set(code) & set("01OIL")
        assert certificates.normalize_code(code) == code
        shown = certificates.display_code(code)
        assert certificates.normalize_code(shown.lower()) == code  # typed lower case, with the dash
        assert certificates.normalize_code(" " + shown.replace("-", " ") + " ") == code
        for i in range(10):  # every single wrong character is detected
            for c in certificates.ALPHABET:
                if c != code[i]:
                    assert certificates.normalize_code(code[:i] + c + code[i + 1:]) is None
        for i in range(9):  # and every swap of two different neighbours
            if code[i] != code[i + 1]:
                assert certificates.normalize_code(code[:i] + code[i + 1] + code[i] + code[i + 2:]) is None
    assert certificates.normalize_code("") is None and certificates.normalize_code("ABC") is None
    assert certificates.normalize_code("0" * 10) is None


def test_placeholders_are_checked_with_a_french_message():
    assert certificates.template_errors("Atteste que {civilite} {prenom} {nom} a suivi {session}.") is None
    message = certificates.template_errors("Atteste que {prénom} {nom} a suivi {formation}.")
    assert "Champ inconnu" in message and "{formation}" in message and "{prénom}" in message and "{prenom}" in message
    assert "Accolade" in certificates.template_errors("Atteste que {nom a suivi")
    assert "Accolade" in certificates.template_errors("Atteste que nom} a suivi")


async def test_the_pdf_states_the_snapshot_and_its_bytes_never_change(demo):
    text = "Je certifie que {civilite} {prenom} {nom} a suivi « {session} » ({duree}) pour {etablissement}.\nCode : {code}"
    session_id, activities, learners, enrolments = await completed_session(text=text)
    certificate = await certificates.for_enrolment(enrolments[learners[0]])
    pdf = await certificates.pdf_of(certificate)
    assert hashlib.sha256(pdf).hexdigest() == certificate["pdf_sha256"]
    again = await certificates.pdf_of(await certificates.for_enrolment(enrolments[learners[0]]))
    assert again == pdf  # rendered again from the snapshot: the same bytes
    content = pdf_text(pdf)
    learner = await User.select().where(User.id == learners[0]).first()
    assert "Attestation de fin de formation" in content  # layout 4 (issue 22)
    assert f"Je certifie que {learner['first_name']} {learner['last_name']} a suivi" in content
    assert "Qualité de vie au travail" in content and "du 2 juin 2026 au 3 juin 2026" in content
    assert certificate["display_code"] in content and "signature" in content
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert_tagged_pdf(pdf, f"Attestation de fin de formation — {learner['first_name']} {learner['last_name']}")
    # A changed name or session does not change an issued certificate.
    await User.update({User.last_name: "Corrigé"}).where(User.id == learners[0])
    assert await certificates.pdf_of(await certificates.for_enrolment(enrolments[learners[0]])) == pdf


async def test_the_qr_code_payload_is_the_verification_url(demo):
    """The QR code drawn in the PDF is, module for module, the code of the verification URL."""
    import segno

    session_id, activities, learners, enrolments = await completed_session()
    certificate = await certificates.for_enrolment(enrolments[learners[0]])
    url = certificate["snapshot"]["verify_url"]
    assert url == f"http://testserver.local/verifier/{certificate['code']}"
    images = PdfReader(io.BytesIO(await certificates.pdf_of(certificate))).pages[0].images
    assert len(images) == 1
    drawn = images[0].image.convert("1")
    pixels, (width, height) = drawn.load(), drawn.size
    dark = [[pixels[x, y] == 0 for x in range(width)] for y in range(height)]
    expected = [[bool(v) for v in row] for row in segno.make(url, error="m").matrix_iter(scale=1, border=2)]
    assert dark == expected
    other = [[bool(v) for v in row] for row in segno.make(url + "X", error="m").matrix_iter(scale=1, border=2)]
    assert dark != other


async def test_a_certificate_keeps_the_layout_it_was_issued_with(demo):
    """Certificates issued before layout 2 (no "layout" in their snapshot) render with layout 1,
    byte for byte as sealed; new ones with the current layout, same text."""
    import hashlib

    session_id, activities, learners, enrolments = await completed_session()
    certificate = await certificates.for_enrolment(enrolments[learners[0]])
    assert certificate["snapshot"]["layout"] == certificates.LAYOUT == 4
    old = {k: v for k, v in certificate["snapshot"].items() if k not in ("layout", TAGGED)}
    first = await certificates.render(old)
    assert not pdf_accessibility(first)["structure"]  # issued before tagging: untagged, as sealed
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(await certificates.render(old)).hexdigest()
    current = await certificates.render(certificate["snapshot"])
    assert first != current
    assert len(PdfReader(io.BytesIO(first)).pages[0].images) == 0  # layout 1: the QR code is an SVG drawing
    assert len(PdfReader(io.BytesIO(current)).pages[0].images) == 1
    text = lambda pdf: " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())  # noqa: E731
    assert certificate["display_code"] in text(first) and certificate["display_code"] in text(current)


async def test_the_pdf_is_rendered_after_the_commit_and_a_job_seals_many(demo, run_jobs, redis_client):
    """Inside a caller's transaction the certificate row is issued without its PDF (no WeasyPrint
    while rows are locked); the first download renders it and keeps its hash; for many at once the
    seal_certificates job does it."""
    from app import db

    session_id, activities, learners, enrolments = await completed_session(learners_count=8, complete=0)
    first = enrolments[learners[0]]
    await learning.set_completion(first, activities[0], True, CompletionHow.manual)
    async with db.transaction():
        await learning.set_completion(first, activities[1], True, CompletionHow.manual)
        row = await Certificate.select(Certificate.pdf_sha256).where(Certificate.enrolment == first).first()
        assert row["pdf_sha256"] == ""  # issued, not rendered inside the transaction
    certificate = await certificates.for_enrolment(first)
    pdf = await certificates.pdf_of(certificate)
    stored = (await Certificate.select(Certificate.pdf_sha256).where(Certificate.enrolment == first).first())["pdf_sha256"]
    assert stored == hashlib.sha256(pdf).hexdigest() == hashlib.sha256(await certificates.pdf_of(certificate)).hexdigest()

    # Seven completed at once (as one attendance sheet may do): the job renders and hashes them.
    others = [enrolments[u] for u in learners[1:]]
    async with db.transaction():
        for e in others:
            for activity in activities:
                await learning.set_completion(e, activity, True, CompletionHow.manual)
    assert await Certificate.count().where(Certificate.enrolment.is_in(others) & (Certificate.pdf_sha256 == "")) == 7
    assert await certificates.seal(others, redis_client) == 0  # more than SEAL_INLINE: queued
    await run_jobs()
    rows = await Certificate.select(Certificate.snapshot, Certificate.pdf_sha256).where(Certificate.enrolment.is_in(others))
    for r in rows:
        snapshot = json.loads(r["snapshot"]) if isinstance(r["snapshot"], str) else r["snapshot"]
        assert r["pdf_sha256"] == hashlib.sha256(await certificates.render(snapshot)).hexdigest()


async def test_certificates_left_unsealed_are_sealed_by_the_cron_once_with_two_workers(demo, redis_client):
    """A certificate whose seal job could not be queued (or was lost) is not left to its first
    download: the seal_unsealed_certificates cron seals it after a minute, by batches, and two
    workers running it at once seal each certificate once, with the hash of its PDF."""
    import asyncio
    from datetime import timedelta

    from app import db
    from app.dates import now
    from app.jobs import worker

    session_id, activities, learners, enrolments = await completed_session(learners_count=7, complete=0)
    ids = [enrolments[u] for u in learners]
    async with db.transaction():  # completed together; nobody seals after this commit (no job queued)
        for e in ids:
            for activity in activities:
                await learning.set_completion(e, activity, True, CompletionHow.manual)
    unsealed = Certificate.pdf_sha256 == certificates.UNSEALED
    assert await Certificate.count().where(unsealed) == 7
    cron = next(c for c in worker.cron_jobs() if c.name == "cron:seal_unsealed_certificates")
    ctx = {"redis": redis_client}
    assert await cron.coroutine(ctx) == 0  # issued less than a minute ago: their own seal may be under way
    await Certificate.update({Certificate.issued_at: now() - timedelta(minutes=2)}).where(Certificate.id > 0)
    # Two workers at once, in batches of 3: each certificate sealed once in all.
    results = await asyncio.gather(certificates.seal_unsealed(batch=3), certificates.seal_unsealed(batch=3))
    assert sum(results) == 7 and await Certificate.count().where(unsealed) == 0
    for r in await Certificate.select(Certificate.snapshot, Certificate.pdf_sha256):
        snapshot = json.loads(r["snapshot"]) if isinstance(r["snapshot"], str) else r["snapshot"]
        assert r["pdf_sha256"] == hashlib.sha256(await certificates.render(snapshot)).hexdigest()
    # A run is bounded, and the cron notes its run for the dashboard.
    await Certificate.update({Certificate.pdf_sha256: certificates.UNSEALED}).where(Certificate.id > 0)
    assert await certificates.seal_unsealed(batch=2, limit=5) == 5
    assert await cron.coroutine(ctx) == 2 and await cron.coroutine(ctx) == 0
    note = {c["name"]: c for c in await worker.cron_status(redis_client)}["cron:seal_unsealed_certificates"]
    assert note["last"]["ok"] is True and note["last"]["detail"] == "0"
    # One that cannot be rendered (a damaged snapshot) never holds up the others.
    first = (await Certificate.select(Certificate.id).order_by(Certificate.id).first())["id"]
    await Certificate.update({Certificate.pdf_sha256: certificates.UNSEALED}).where(Certificate.id > 0)
    await Certificate.update({Certificate.snapshot: json.dumps({"layout": 2})}).where(Certificate.id == first)
    assert await certificates.seal_unsealed(batch=3) == 6
    assert [r["id"] for r in await Certificate.select(Certificate.id).where(unsealed)] == [first]
