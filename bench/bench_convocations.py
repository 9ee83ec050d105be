"""Convocations on PostgreSQL (issue 12, X2): a 500-learner session.

- queueing all the convocations when 500 people are enrolled at once (add_sources: the enrolment,
  its sources and the 500 notices in one transaction; target <= 5 s) and when the manager clicks
  « Envoyer les convocations » for the 500 never convoked of a session that does not send them by
  itself (and again: nobody gets the same convocation twice, 0 queued);
- one convocation PDF rendered (p50 / p95 over 30), one .ics;
- building the 500 mails (PDF + .ics each, into the outbox) in the job, for the record.

Run: .venv/bin/python bench/bench_convocations.py   (BENCH_SMOKE=1: 10 learners, 2 renders)
"""

import statistics
import time
from datetime import time as clock, timedelta

import _setup

LEARNERS = _setup.size(500, 10)
RENDERS = _setup.scale(30, 2)


async def main() -> None:
    from app import db
    from app.dates import today
    from app.pdf.render import render_pdf_sync
    from app.queue import connect
    from app.services import convocations
    from app.services.enrolments import add_sources
    from app.tables.accounts import User
    from app.tables.catalogue import SessionSlot, TrainingSession
    from app.tables.convocations import ConvocationNotice
    from app.tables.learning import SourceKind
    from app.tables.outbox import Mail, MailAttachment

    await db.open_pool()
    alp001, ids = await _setup.seed_learners(LEARNERS, lambda i: (f"Prénom{i}", f"Nöm{i}"), prefix="alp001.p.nom")
    start = today() + timedelta(days=30)
    session = (await TrainingSession.insert(TrainingSession(
        establishment=alp001, full_name="Session bench convocations", short_name="bench", start_date=start,
        end_date=start + timedelta(days=1), code="26X00S1", place="Salle Rhône\n12 rue des Lilas",
        contact="Claire Martin", what_to_bring="Pièce d'identité")).returning(TrainingSession.id))[0]["id"]
    await SessionSlot.insert(*[SessionSlot(session=session, day=start + timedelta(days=d), starts=a, ends=b)
                               for d in (0, 1) for a, b in ((clock(9), clock(12, 30)), (clock(13, 30), clock(17)))])
    quiet = (await TrainingSession.insert(TrainingSession(
        establishment=alp001, full_name="Session bench sans envoi", short_name="bench2", start_date=start,
        end_date=start + timedelta(days=1), code="26X00S2", auto_convocations=False)).returning(TrainingSession.id))[0]["id"]
    await User.raw("ANALYZE")

    t0 = time.perf_counter()
    await add_sources(quiet, ids, SourceKind.manual)
    print(f"for comparison, enrol {LEARNERS} learners in a session that does not send them by itself: "
          f"{time.perf_counter() - t0:.3f} s")
    t0 = time.perf_counter()
    added = await add_sources(session, ids, SourceKind.manual)
    enrol_time = time.perf_counter() - t0
    notices = await ConvocationNotice.count().where(ConvocationNotice.session == session)
    print(f"enrol {LEARNERS} learners at once, convocations queued in the same transaction: {enrol_time:.3f} s "
          f"({added} enrolled, {notices} convocations queued; target <= 5 s)")
    _setup.check(added == notices == LEARNERS, f"{LEARNERS} enrolled at once: {added} enrolled, {notices} convocations")

    redis = await connect()
    t0 = time.perf_counter()
    await convocations.dispatch_pending(redis, [session])
    print(f"enqueue the build job after the commit: {(time.perf_counter() - t0) * 1000:.1f} ms")
    row = await TrainingSession.select().where(TrainingSession.id == quiet).first()
    for attempt in ("first click", "second click"):
        t0 = time.perf_counter()
        queued = await convocations.queue_for_session(row, only_new=True)
        print(f"« Envoyer les convocations », {attempt}: {queued} queued in {(time.perf_counter() - t0) * 1000:.1f} ms")
        expected = LEARNERS if attempt == "first click" else 0
        _setup.check(queued == expected, f"« Envoyer les convocations », {attempt}: {queued} queued, not {expected}")

    from app.tables.learning import Enrolment

    first = await Enrolment.select(Enrolment.id).where(Enrolment.session == session).first()
    f = (await convocations.facts([first["id"]]))[first["id"]]
    _setup.check(len(f["slots"]) == 4, f"the convocation's facts hold {len(f['slots'])} slots, not 4")
    timings = []
    for _ in range(RENDERS):
        t0 = time.perf_counter()
        pdf = render_pdf_sync(convocations.TEMPLATE, convocations.pdf_context(f))
        timings.append((time.perf_counter() - t0) * 1000)
    print(f"one convocation PDF: p50 {statistics.median(timings):.0f} ms, p95 {_setup.percentile(timings, 95):.0f} ms "
          f"({len(pdf) // 1024} KB)")
    t0 = time.perf_counter()
    for _ in range(100):
        ics = convocations.invitation_ics(f)
    print(f"one .ics (4 events, VTIMEZONE): {(time.perf_counter() - t0) * 10:.2f} ms ({len(ics)} bytes)")

    # The job's work, here in-process (the mails are left queued: no SMTP in the bench).
    from app.services import outbox

    saved = outbox.dispatch

    async def no_dispatch(redis, mail_ids):
        return None

    outbox.dispatch = no_dispatch
    t0 = time.perf_counter()
    try:
        counts = await convocations.build_pending(None, session)
    finally:
        outbox.dispatch = saved
    build = time.perf_counter() - t0
    mails = await Mail.count().where(Mail.category == "convocation")
    attachments = await MailAttachment.count()
    print(f"the job: {LEARNERS} convocation mails built (PDF + .ics each) in {build:.1f} s "
          f"({build / max(1, counts['sent']) * 1000:.0f} ms a mail; {counts}, {mails} mails, {attachments} attachments)")
    await redis.aclose()
    await db.close_pool()
    _setup.check(pdf.startswith(b"%PDF") and b"BEGIN:VEVENT" in ics, "the convocation's PDF or .ics is not one")
    _setup.check(counts["sent"] == mails == LEARNERS and attachments == 2 * LEARNERS,
                 f"the job built {mails} convocation mails ({counts}, {attachments} attachments) for {LEARNERS}")


if __name__ == "__main__":
    _setup.run(main)
