"""The certificat de réalisation and the attestation de fin de formation (issue 22): the provider's
settings, when a certificat is issued (after the last slot, attendance recorded, hours attended, the
provider set), what it states (NDA, hours, taux de réalisation, stamp), frozen snapshots and new
versions per kind, and the attestation's objectives and quiz results (layout 4)."""

import base64
import io
import json
from datetime import timedelta

import pytest
import segno
from PIL import Image
from pypdf import PdfReader

from app.dates import today
from app.numbers import rate_percent
from app.services import attendance, certificates, learning
from app.services.certificates import provider
from app.services.auth import load_current_user
from app.services.errors import ValidationFailed
from app.tables.accounts import User
from app.tables.catalogue import CourseTemplate, SessionActivity, SessionSlot, TrainingSession
from app.tables.certificates import Certificate
from app.tables.learning import CompletionHow, QuizAttempt
from app.tables.outbox import PlatformSetting
from tests.services.test_certificate_evidence import session_with_slots
from tests.helpers import assert_tagged_pdf
from tests.services.test_certificates import completed_session, pdf_text


def png(size=(40, 20), colour=(200, 0, 0)) -> bytes:
    """A small stamp image (a gradient: a plain rectangle would be drawn as a plain rectangle)."""
    image = Image.new("RGB", size, colour)
    image.putdata([(colour[0], (x * 6) % 256, (y * 12) % 256) for y in range(size[1]) for x in range(size[0])])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def set_provider(**overrides):
    form = provider.ProviderForm(**{"name": "Tremplin Formation", "nda": "11 75 12345 75",
                                    "address": "3 rue des Lilas\n69002 Lyon", "signatory": "Claire Durand",
                                    "signatory_title": "Directrice", **overrides})
    await provider.save(form, png())


async def past_session(learners=3):
    """session_with_slots (3 half-days, 10 h 30) that took place last week."""
    session_id, activity, enrolments, slot_ids = await session_with_slots(today() + timedelta(days=1), learners=learners)
    await SessionSlot.raw("UPDATE session_slot SET day = day - 8 WHERE session = {}", session_id)
    past = today() - timedelta(days=7)
    await TrainingSession.update({TrainingSession.start_date: past, TrainingSession.end_date: past + timedelta(days=1)}
                                 ).where(TrainingSession.id == session_id)
    return session_id, activity, enrolments, slot_ids


async def of_kind(enrolment_id: int, kind: str) -> list[dict]:
    return await Certificate.select().where((Certificate.enrolment == enrolment_id) & (Certificate.kind == kind)
                                            ).order_by(Certificate.version)


def test_taux_de_realisation_rounds_halves_up():
    assert rate_percent(10.5 * 60, 14 * 60) == 75
    assert rate_percent(60, 8 * 60) == 13  # 12.5 → 13
    assert rate_percent(0, 8 * 60) == 0
    assert rate_percent(60, None) is None and rate_percent(60, 0) is None


async def test_the_provider_form_refuses_bad_input_in_french_and_keeps_the_stamp_by_digest(demo):
    with pytest.raises(ValidationFailed) as refused:
        await provider.save(provider.ProviderForm(name="", nda="1234"), None)
    assert refused.value.errors == {"name": "Indiquez le nom de l'organisme de formation.",
                                    "nda": "Le numéro de déclaration d'activité compte 11 chiffres (par exemple 11 75 12345 75)."}
    form = provider.ProviderForm(name="Tremplin", nda="11751234575")
    for content, message in ((b"GIF89a" + b"\0" * 30, "Le cachet doit être une image PNG ou JPEG."),
                             (b"\x89PNG\r\n\x1a\n" + b"\0" * 30, "Cette image est illisible"),
                             (b"\x89PNG\r\n\x1a\n" + b"\0" * (1024 * 1024), "dépasse 1 Mo")):
        with pytest.raises(ValidationFailed) as refused:
            await provider.save(form, content)
        assert message in refused.value.errors["stamp"]
    assert not provider.ready(await provider.load())  # nothing written by a refused form

    await set_provider(nda="11 75 12345 75")
    stored = await provider.load()
    assert stored["nda"] == "11751234575" and stored["name"] == "Tremplin Formation" and provider.ready(stored)
    first_stamp = stored["stamp"]
    assert (await provider.stamp_uri(first_stamp)).startswith("data:image/jpeg;base64,")
    # A new stamp: the old one stays readable (certificates issued with it render the same bytes).
    await provider.save(provider.ProviderForm(name="Tremplin Formation", nda="11751234575"), png(colour=(0, 0, 200)))
    assert (await provider.load())["stamp"] != first_stamp
    assert await PlatformSetting.exists().where(PlatformSetting.key == f"provider_stamp:{first_stamp[:48]}")
    assert provider.city_of("3 rue des Lilas\n69002 Lyon Cedex 02") == "Lyon" and provider.city_of("") == ""
    # A large scan is stored scaled down to the printed size (each certificat's render decodes it).
    await provider.save(provider.ProviderForm(name="Tremplin Formation", nda="11751234575"), png(size=(2400, 1200)))
    stored = Image.open(io.BytesIO(base64.b64decode((await provider.stamp_uri((await provider.load())["stamp"])
                                                     ).split(",", 1)[1])))
    assert stored.size == (320, 160) and stored.format == "JPEG" and stored.mode == "RGB"
    # A transparent stamp is laid on white (the page is white).
    clear = Image.new("RGBA", (20, 10), (0, 0, 255, 0))
    clear.putpixel((0, 0), (0, 0, 255, 255))
    out = io.BytesIO()
    clear.save(out, format="PNG")
    flat = Image.open(io.BytesIO(provider.fitted(out.getvalue())))
    assert flat.mode == "RGB" and min(flat.getpixel((5, 5))) >= 245  # white, within JPEG's few levels
    red, green, blue = flat.getpixel((0, 0))
    assert red < 40 and green < 40 and blue > 215


async def test_issued_after_the_last_slot_with_hours_attended_whether_complete_or_not(demo):
    await set_provider()
    session_id, activity, (full, absent, partial), slot_ids = await session_with_slots(
        today() + timedelta(days=1), learners=3)
    # Before the slots took place: nothing, whatever is recorded.
    assert await certificates.issue_due() == []
    await SessionSlot.raw("UPDATE session_slot SET day = day - 8 WHERE session = {}", session_id)
    cells = {(full, s): "present" for s in slot_ids} | {(absent, s): "absent" for s in slot_ids} \
        | {(partial, slot_ids[0]): "present", (partial, slot_ids[1]): "absent"}
    await attendance.save(None, session_id, cells)
    # Partial's last slot is not recorded yet: only the full one gets a certificat (not complete: the
    # activity is not done — the certificat attests hours, not completion); 0 h gets none.
    assert [c["version"] for c in await of_kind(full, "realisation")] == [1]
    assert await of_kind(full, "completion") == []
    assert await of_kind(absent, "realisation") == [] and await of_kind(partial, "realisation") == []
    await attendance.save(None, session_id, {(partial, slot_ids[2]): "absent"})
    (issued,) = await of_kind(partial, "realisation")
    snap = json.loads(issued["snapshot"])
    assert (snap["heures_realisees"], snap["heures_prevues"], snap["taux"]) == ("3,5", "10,5", 33)
    assert snap["organisme"]["nda"] == "11 75 12345 75" and snap["fait_a"] == "Lyon"
    assert snap["employeur"] == "CH BUIS LES BARONNIES"  # the learner's establishment
    assert await of_kind(absent, "realisation") == []
    assert await certificates.issue_due() == []  # nothing more due, nothing twice


async def test_none_without_the_provider_then_issued_once_it_is_set(demo):
    session_id, activity, (enrolment,), slot_ids = await past_session(learners=1)
    await attendance.save(None, session_id, {(enrolment, s): "present" for s in slot_ids})
    assert await of_kind(enrolment, "realisation") == []
    assert provider.MISSING.startswith("Renseignez l'organisme de formation")
    await set_provider()
    assert await certificates.issue_due() == [enrolment]
    assert len(await of_kind(enrolment, "realisation")) == 1


async def test_a_session_without_slots_gets_no_certificat_de_realisation(demo):
    await set_provider()
    session_id, activities, learners, enrolments = await completed_session(learners_count=1)
    enrolment = enrolments[learners[0]]
    assert await certificates.for_enrolment(enrolment) is not None  # the attestation, at once
    assert await certificates.for_enrolment(enrolment, "realisation") is None
    assert await certificates.issue_due() == []


async def test_attendance_corrected_after_issue_changes_nothing_until_reissued(demo):
    await set_provider()
    session_id, activity, (enrolment,), slot_ids = await past_session(learners=1)
    await learning.set_completion(enrolment, activity, True, CompletionHow.manual)
    await attendance.save(None, session_id, {(enrolment, s): "present" for s in slot_ids})
    (completion,) = await of_kind(enrolment, "completion")
    (first,) = await of_kind(enrolment, "realisation")
    await certificates.seal([enrolment])
    first_pdf = await certificates.pdf_of(await certificates.for_enrolment(enrolment, "realisation"))
    assert "10,5 heures" in pdf_text(first_pdf) and "Taux de réalisation : 100 %" in pdf_text(first_pdf)

    # A correction: absent from the last half-day. The certificat issued stays as it was.
    await attendance.save(None, session_id, {(enrolment, slot_ids[2]): "absent"})
    assert [c["version"] for c in await of_kind(enrolment, "realisation")] == [1]
    assert await certificates.pdf_of(await certificates.for_enrolment(enrolment, "realisation")) == first_pdf

    # « Réémettre »: a new version with the new hours; the attestation is untouched.
    manager = await _manager()
    new = await certificates.reissue(manager, first["id"])
    assert new["version"] == 2 and new["kind"] == "realisation"
    assert (new["snapshot"]["heures_realisees"], new["snapshot"]["taux"]) == ("7", 67)
    versions = await of_kind(enrolment, "realisation")
    assert [(c["version"], c["status"]) for c in versions] == [(1, "superseded"), (2, "valid")]
    assert [(c["id"], c["status"]) for c in await of_kind(enrolment, "completion")] == [(completion["id"], "valid")]
    # Revoking the certificat leaves the attestation valid; a re-issue from an older version is refused.
    await certificates.revoke(manager, new["id"], "Erreur de saisie")
    assert (await of_kind(enrolment, "completion"))[0]["status"] == "valid"
    with pytest.raises(ValidationFailed):
        await certificates.reissue(manager, first["id"])
    # No hours left after a correction: no new version of 0 h.
    await attendance.save(None, session_id, {(enrolment, s): "absent" for s in slot_ids})
    with pytest.raises(ValidationFailed) as refused:
        await certificates.reissue(manager, new["id"])
    assert "Aucune heure de présence" in refused.value.errors["version"]


async def _manager():
    row = await User.select(User.id).where(User.username == "alp001.get").first()
    return await load_current_user(row["id"])


async def test_the_certificat_states_the_ministry_model_with_nda_hours_rate_and_stamp(demo):
    await set_provider()
    session_id, activity, (enrolment,), slot_ids = await past_session(learners=1)
    await attendance.save(None, session_id, {(enrolment, slot_ids[0]): "present", (enrolment, slot_ids[1]): "present",
                                             (enrolment, slot_ids[2]): "absent"})
    certificate = await certificates.for_enrolment(enrolment, "realisation")
    pdf = await certificates.pdf_of(certificate)
    content = pdf_text(pdf)
    learner = await User.select().where(User.id == certificate["user"]).first()
    for expected in ("CERTIFICAT DE RÉALISATION", "Numéro de déclaration d'activité : 11 75 12345 75",
                     "Je soussigné(e) Claire Durand, représentant légal du dispensateur de l'action concourant au "
                     "développement des compétences Tremplin Formation, atteste que",
                     f"{learner['first_name']} {learner['last_name']}",
                     "salarié(e) de l'entreprise / agent de CH BUIS LES BARONNIES",
                     "☒ action de formation", "☐ bilan de compétences", "☐ action de VAE",
                     "☐ action de formation par apprentissage", "pour une durée de 10,5 heures",
                     "réalisée à hauteur de 7 heures", "Taux de réalisation : 67 %", "Fait à Lyon, le",
                     "Claire Durand, Directrice", certificate["display_code"]):
        assert expected in content, expected
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1  # one A4 page, as the model
    assert_tagged_pdf(pdf, f"Certificat de réalisation — {learner['first_name']} {learner['last_name']}")
    # The QR code of the verification URL (one pixel per module, border 2) and the stamp, as uploaded.
    expected = segno.make(certificate["snapshot"]["verify_url"], error="m", mask=0)
    qr_size = expected.symbol_size(scale=1, border=2)
    images = {image.image.size: image.image for image in reader.pages[0].images}
    assert sorted(images) == sorted([qr_size, (40, 20)])
    drawn = images[qr_size].convert("1")
    pixels = drawn.load()
    dark = [[pixels[x, y] == 0 for x in range(qr_size[0])] for y in range(qr_size[1])]
    assert dark == [[bool(v) for v in row] for row in expected.matrix_iter(scale=1, border=2)]  # module for module
    assert certificate["filename"].startswith("certificat-realisation-26X00S5-")
    # The stamp changed afterwards: the certificat renders the same bytes (its stamp kept by digest).
    await provider.save(provider.ProviderForm(name="Autre", nda="11751234575"), png(colour=(0, 90, 0)))
    provider._STAMPS.clear()
    assert await certificates.pdf_of(await certificates.for_enrolment(enrolment, "realisation")) == pdf
    found = await certificates.verify(certificate["code"])
    assert found["kind_label"] == "Certificat de réalisation" and found["hours"] == ("7", "10,5", 67)


async def test_the_attestation_de_fin_de_formation_states_objectives_and_quiz_results(demo):
    session_id, activity, (enrolment, other), slot_ids = await past_session(learners=2)
    template = (await CourseTemplate.insert(CourseTemplate(
        code="C99", title="Bientraitance", short_name="BT", objectives="Repérer les situations de maltraitance.\nSavoir alerter.")).returning(
        CourseTemplate.id))[0]["id"]
    await TrainingSession.update({TrainingSession.template: template}).where(TrainingSession.id == session_id)
    quizzes = [r["id"] for r in await SessionActivity.insert(
        SessionActivity(session=session_id, position=1, kind="quiz", title="Quiz d'entrée", required=False),
        SessionActivity(session=session_id, position=2, kind="quiz", title="Quiz final", required=False),
    ).returning(SessionActivity.id)]
    await QuizAttempt.insert(QuizAttempt(enrolment=enrolment, activity=quizzes[1], score=40, passed=False),
                             QuizAttempt(enrolment=enrolment, activity=quizzes[1], score=85, passed=True))
    await learning.set_completion(enrolment, activity, True, CompletionHow.manual)
    await attendance.save(None, session_id, {(e, s): "present" for e in (enrolment, other) for s in slot_ids})
    certificate = await certificates.for_enrolment(enrolment)
    snap = certificate["snapshot"]
    assert snap["layout"] == 4 and snap["nature"] == "Action de formation"
    assert snap["evaluations"] == [{"titre": "Quiz d'entrée", "score": None, "reussi": False},
                                   {"titre": "Quiz final", "score": 85, "reussi": True}]
    pdf = await certificates.pdf_of(certificate)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1  # a usual attestation stays one A4 page
    content = pdf_text(pdf)
    for expected in ("Attestation de fin de formation", "Objectifs de la formation",
                     "Repérer les situations de maltraitance.", "Savoir alerter.", "Nature de l'action Action de formation",
                     "Résultats de l'évaluation des acquis", "Quiz d'entrée — Non passée", "Quiz final 85 % Réussie"):
        assert expected in content, expected
    assert "Attestation de suivi de formation" not in content
    # Frozen: a later attempt does not change the issued attestation.
    await QuizAttempt.insert(QuizAttempt(enrolment=enrolment, activity=quizzes[0], score=100, passed=True))
    assert (await certificates.for_enrolment(enrolment))["snapshot"]["evaluations"] == snap["evaluations"]


async def test_without_quiz_the_attestation_says_aucune_evaluation(demo):
    session_id, activity, (enrolment,), slot_ids = await past_session(learners=1)
    await learning.set_completion(enrolment, activity, True, CompletionHow.manual)
    await attendance.save(None, session_id, {(enrolment, s): "present" for s in slot_ids})
    content = pdf_text(await certificates.pdf_of(await certificates.for_enrolment(enrolment)))
    assert "Aucune évaluation." in content and "Non précisés." in content


async def test_the_kept_image_cache_gives_the_same_bytes(demo):
    """The stamp is decoded once per render process (app/pdf/render.py's image cache): a render with
    the cache warm gives the bytes of a render with it empty."""
    from app.pdf import render as pdf_render

    await set_provider()
    session_id, activity, (enrolment,), slot_ids = await past_session(learners=1)
    await attendance.save(None, session_id, {(enrolment, s): "present" for s in slot_ids})
    snapshot = (await certificates.with_assets([(await certificates.for_enrolment(enrolment, "realisation"))["snapshot"]]))[0]
    pdf_render._local.images = {}
    cold = certificates.render_sync(snapshot)
    assert len(pdf_render._local.images) > 0
    assert certificates.render_sync(snapshot) == cold


def _png_of(width: int, height: int) -> bytes:
    """A real, tiny PNG declaring many pixels (one bit each, all white: a few KB)."""
    out = io.BytesIO()
    Image.new("1", (width, height), 1).save(out, format="PNG")
    return out.getvalue()


async def test_a_stamp_of_too_many_pixels_is_refused_from_its_header_and_fitted_off_the_loop_before_the_transaction(
        demo, monkeypatch):
    """A 1 MB PNG may declare 100 million pixels: decoded (convert, resize), hundreds of MB, on the
    event loop and inside the transaction. Refused from its header; a good one is fitted in a thread,
    no transaction open."""
    import threading

    from app import db

    form = provider.ProviderForm(name="Tremplin", nda="11751234575")
    big = _png_of(7000, 300)
    assert len(big) < provider.STAMP_MAX_BYTES
    with pytest.raises(ValidationFailed) as refused:
        await provider.save(form, big)
    assert refused.value.errors["stamp"] == ("L'image du cachet est trop grande (7000 × 300 pixels) : réduisez-la à "
                                             "6000 × 6000 pixels au plus.")
    header = bytearray(_png_of(20, 20))  # a header declaring 20,000 × 20,000: Pillow's bomb check, same words
    header[16:24] = (20000).to_bytes(4, "big") * 2
    import zlib
    header[29:33] = zlib.crc32(bytes(header[12:29])).to_bytes(4, "big")
    with pytest.raises(ValidationFailed) as refused:
        await provider.save(form, bytes(header))
    assert "trop grande" in refused.value.errors["stamp"]
    assert not provider.ready(await provider.load())

    seen = []
    real = provider.fitted

    def spy(content):
        seen.append((threading.current_thread() is threading.main_thread(),
                     db.engine().current_transaction.get() is not None))
        return real(content)

    monkeypatch.setattr(provider, "fitted", spy)
    await provider.save(form, png(size=(900, 300)))
    assert seen == [(False, False)]  # in a worker thread, outside any transaction
    assert provider.ready(await provider.load())


async def test_each_mail_names_its_document_and_the_learners_page_shapes_only_the_latest_versions(demo, monkeypatch):
    """The attestation issued since issue 22 is titled « Attestation de fin de formation »: its mail said
    « attestation de suivi ». And the learner's page JSON-loaded every old version to keep the latest."""
    from app.services.certificates import changes, read
    from app.tables.outbox import Mail

    await set_provider()
    session_id, activity, (enrolment,), slot_ids = await past_session(learners=1)
    await learning.set_completion(enrolment, activity, True, CompletionHow.manual)
    await attendance.save(None, session_id, {(enrolment, s): "present" for s in slot_ids})
    learner = (await Certificate.select(Certificate.enrolment.user.as_alias("user")).where(
        Certificate.enrolment == enrolment).first())["user"]
    await User.update({User.email: "elodie.lefevre@example.org"}).where(User.id == learner)
    manager = await _manager()
    mails = {}
    for kind in ("completion", "realisation"):
        (row,) = await of_kind(enrolment, kind)
        mail_id = await certificates.mail_to_learner(manager, row["id"])
        mails[kind] = await Mail.select(Mail.subject, Mail.body_text).where(Mail.id == mail_id).first()
    assert mails["completion"]["subject"] == "Votre attestation de fin de formation"
    assert "votre attestation de fin de formation de la formation" in mails["completion"]["body_text"]
    assert "suivi" not in mails["completion"]["body_text"]
    assert mails["realisation"]["subject"] == "Votre certificat de réalisation"
    assert "votre certificat de réalisation de la formation" in mails["realisation"]["body_text"]
    # An attestation issued before (layouts 1–3) is still named as its PDF is titled.
    assert changes.mail_words("completion", {"layout": 3})[0] == "attestation de suivi"
    assert changes.mail_words("completion", {})[2] == "Votre attestation de suivi de formation"

    (first,) = await of_kind(enrolment, "realisation")
    await attendance.save(None, session_id, {(enrolment, slot_ids[2]): "absent"})
    await certificates.reissue(manager, first["id"])
    await attendance.save(None, session_id, {(enrolment, slot_ids[1]): "absent"})
    await certificates.reissue(manager, (await of_kind(enrolment, "realisation"))[-1]["id"])
    shaped, real = [], read._shape
    monkeypatch.setattr(read, "_shape", lambda row: shaped.append((row["kind"], row["version"])) or real(row))
    latest = await read.for_enrolment_kinds(enrolment)
    assert (latest["realisation"]["version"], latest["completion"]["version"]) == (3, 1)
    assert sorted(shaped) == [("completion", 1), ("realisation", 3)]


async def test_the_stamp_is_stored_as_a_jpeg_and_embedded_in_each_pdf_as_it_is(demo):
    """WeasyPrint decodes a PNG and compresses it again in every PDF (a tenth of a certificat's render,
    1,000 times for a session's ZIP); a JPEG's bytes go into the PDF as they are. The upload (a PNG
    with transparency, as scans are) is stored as a JPEG at its printed size."""
    import hashlib

    from pypdf.generic import NameObject

    clear = Image.new("RGBA", (800, 320), (255, 255, 255, 0))
    clear.paste((30, 60, 160, 230), (20, 20, 300, 300))
    out = io.BytesIO()
    clear.save(out, format="PNG")
    await provider.save(provider.ProviderForm(name="Tremplin Formation", nda="11751234575"), out.getvalue())
    digest = (await provider.load())["stamp"]
    uri = await provider.stamp_uri(digest)
    assert uri.startswith("data:image/jpeg;base64,")
    stored = base64.b64decode(uri.split(",", 1)[1])
    assert hashlib.sha256(stored).hexdigest() == digest and Image.open(io.BytesIO(stored)).size == (400, 160)
    session_id, activity, (enrolment,), slot_ids = await past_session(learners=1)
    await attendance.save(None, session_id, {(enrolment, s): "present" for s in slot_ids})
    pdf = await certificates.pdf_of(await certificates.for_enrolment(enrolment, "realisation"))
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    objects = [o.get_object() for o in page["/Resources"]["/XObject"].values()]
    jpegs = [o for o in objects if o.get(NameObject("/Filter")) == "/DCTDecode"]
    assert [o._data for o in jpegs] == [stored]  # the stored bytes, not decoded and compressed again
