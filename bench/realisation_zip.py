"""Certificats de réalisation (issue 22) on PostgreSQL: 1,000 learners of one session with four
half-days, their attendance recorded (every other one absent for a half-day: 10,5 h of 14 h, 75 %), the
provider set with a stamp image; the certificats issued set-based by one refresh (as the « Présences »
grid, the closing of a slot or the cron do), then the whole session as one ZIP by the ZIP job (target
≤ 30 s), each entry checked (its name, and for a sample its text: NDA, hours, taux).

Run: .venv/bin/python bench/realisation_zip.py   (CERTS=1000 by default; BENCH_SMOKE=1: 5 certificats)
"""

import io
import os
import re
import secrets
import time
import zipfile

import _setup

CERTS = int(os.environ.get("CERTS", _setup.size(1000, 5)))


def _stamp() -> bytes:
    """A scanned stamp and signature as administrators upload them: 800 × 320, blue ink on a
    transparent background (stored laid on white, scaled down to 400 × 160, its printed size at 200 dpi, as a
    JPEG that each PDF embeds as it is)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (800, 320), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    ink = (30, 60, 160, 230)
    draw.ellipse((20, 20, 300, 300), outline=ink, width=10)
    draw.ellipse((60, 60, 260, 260), outline=ink, width=4)
    for i in range(12):  # a signature's strokes
        draw.line((360 + i * 30, 220 - (i % 3) * 40, 400 + i * 30, 120 + (i % 4) * 30), fill=ink, width=6)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def seed() -> int:
    from datetime import date, time as clock

    from app.services import learning, slots
    from app.services.certificates import provider
    from app.services.enrolments import add_sources
    from app.tables.catalogue import SessionActivity, TrainingSession
    from app.tables.learning import SourceKind

    await provider.save(provider.ProviderForm(
        name="Tremplin Formation", nda="11 75 12345 75", address="3 rue des Lilas\n69002 Lyon",
        signatory="Claire Durand", signatory_title="Directrice"), _stamp())
    alp001, users = await _setup.seed_learners(CERTS, lambda i: ("Élodie", f"Lefèvre-Bénard {i}"))
    start, end = date(2026, 6, 1), date(2026, 6, 2)
    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=alp001, full_name="Session du 01-06-2026 au 02-06-2026_Qualité de vie au travail (QVT)",
        short_name="QVT", start_date=start, end_date=end, code="26C03S1", place="Salle Ventoux")).returning(
        TrainingSession.id))[0]["id"]
    await slots.replace(session_id, [slots.Slot(d, a, b) for d in (start, end)
                                     for a, b in ((clock(9), clock(12, 30)), (clock(13, 30), clock(17)))])
    # A required activity nobody did: only certificats de réalisation (they do not need completion).
    await SessionActivity.insert(SessionActivity(session=session_id, title="Livret", required=True))
    await add_sources(session_id, users, SourceKind.manual)
    # Every slot recorded: present, but every other learner absent from the last half-day.
    await TrainingSession.raw(
        "INSERT INTO attendance (enrolment, slot, status, recorded_at) SELECT e.id, s.id, "
        "CASE WHEN e.id % 2 = 0 AND s.day = {} AND s.starts = {} THEN 'absent' ELSE 'present' END, now() "
        "FROM enrolment e JOIN session_slot s ON s.session = e.session WHERE e.session = {}",
        end, clock(13, 30), session_id)
    t0 = time.perf_counter()
    issued = await learning.refresh_and_issue(session_id=session_id)
    print(f"{len(issued)} certificats de réalisation issued by one refresh (set-based): "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms")
    _setup.check(len(issued) == CERTS, f"{CERTS} learners attended, {len(issued)} certificats issued")
    return session_id


async def main() -> None:
    from app import db
    from app.queue import connect
    from app.services import files, progress
    from app.tables.accounts import User
    from app.tables.certificates import Certificate
    from app.tables.files import StoredFile

    await db.open_pool()
    try:
        session_id = await seed()
        kinds = await Certificate.count().where(Certificate.kind == "realisation")
        _setup.check(kinds == CERTS, f"{kinds} certificats de réalisation")
        print(f"load average {os.getloadavg()[0]:.1f} (2 cores)")
        admin = (await User.select(User.id).where(User.username == "admin").first())["id"]
        redis = await connect()
        token = secrets.token_urlsafe(16)
        # The job in a process of its own, as in a worker: its memory with the render pool's (issue 24).
        job = _setup.in_fresh_process("app.jobs.certificates:build_certificates_zip", session_id, admin, token, "/bench")
        count, wall, renders = job.result, job.seconds, job.children_cpu
        state = await progress.get(redis, token)
        file_id = state["file_id"]
        content = await files.content(file_id)
        print(f"ZIP of {count} certificats de réalisation by the job: {job}; {renders:.1f} s CPU in the render "
              f"processes ({renders / max(count, 1) * 1000:.0f} ms a PDF), {len(content) / 1_048_576:.1f} MB "
              f"(target <= 30 s); {_setup.load()}")
        _setup.check(count == CERTS, f"ZIP of {CERTS} certificats: {count} in it")
        # A target, not a smoke check: at a tiny scale the time is the render pool's start on a loaded machine.
        _setup.check(_setup.SMOKE or wall <= 30, f"the ZIP took {wall:.1f} s (target <= 30 s)")
        await check_archive(content)
        await StoredFile.delete().where(StoredFile.id == file_id)
        await redis.aclose()
    finally:
        await db.close_pool()


async def check_archive(content: bytes) -> None:
    from pypdf import PdfReader

    with zipfile.ZipFile(io.BytesIO(content)) as z:
        names = z.namelist()
        _setup.check(len(names) == CERTS and all(n.startswith("certificat-realisation-26C03S1-") for n in names),
                     "every entry is a certificat de réalisation, named as such")
        for name in names[:3] + names[-2:]:
            text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(z.read(name))).pages).split())
            rate = re.search(r"Taux de réalisation : (\d+) %", text)
            _setup.check("CERTIFICAT DE RÉALISATION" in text and "11 75 12345 75" in text
                         and "pour une durée de 14 heures" in text and rate and rate[1] in ("75", "100"),
                         f"{name}: the model's text, NDA, hours and taux")
    print(f"ZIP checked: {len(names)} entries, a sample's text (NDA, 14 heures, taux 75 % / 100 %)")


if __name__ == "__main__":
    _setup.run(main)
