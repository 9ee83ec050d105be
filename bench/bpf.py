"""BPF (Cerfa 10443) and élus' report of a year on PostgreSQL, as the job computes them: 5,000 sessions
of 2025 with 2 slots each, 50,000 enrolments, 100,000 attendance records (mostly present, some absent
or excused), 1,000 trainers (some slots with their own trainers, the rest trained by the session's),
templates with NSF codes and objectives, sessions own / subcontracted, some remote; all built
set-based with generate_series.

Measures the job's function (compute_year_reports: three COPYs into polars, the figures, the élus'
report, both YearReport rows written) end to end, a recompute, and the size of the figures kept.
Target (issue 23): ≤ 10 s.
Run: BENCH_REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/bpf.py
(BENCH_SMOKE=1: 50 sessions, 500 enrolments)
"""

import json
import statistics
import time

import _setup

SESSIONS, PER_SESSION, USERS, TRAINERS = _setup.size((5_000, 10, 40_000, 1_000), (50, 10, 400, 20), tenfold=(50_000, 10, 400_000, 10_000))
RUNS = _setup.scale(3, 1)
YEAR = 2025

SEED = [
    """INSERT INTO course_template (code, title, short_name, objectives, duration, certificate_text, progress_block,
                                    discussion_block, visible, search_text, created_at, nsf_code, bpf_objective)
        SELECT 'B' || lpad(g::text, 2, '0'), 'Modèle BPF ' || g, 'MB' || g, '', '', '', true, true, true, '', now(),
               CASE WHEN g % 10 = 0 THEN '' ELSE (ARRAY['100','122','128','300','310','312','315','331','332','333'])[1 + g % 10] END,
               CASE WHEN g % 9 = 0 THEN '' ELSE (ARRAY['rncp_6_8','rncp_5','rncp_4','rs','cqp','other','skills_review','vae'])[1 + g % 8] END
        FROM generate_series(1, 40) g""",
    f"""INSERT INTO app_user (username, password_hash, first_name, last_name, email, establishment, status, matricule,
                              is_suspended, force_password_change, search_text, last_name_key, first_name_key, created_at,
                              external)
        SELECT 'bpf.' || g, 'x', 'Prénom' || g, 'Nom' || g, 'bpf' || g || '@example.org',
               CASE WHEN g % 3 = 0 THEN NULL ELSE (SELECT array_agg(id ORDER BY id) FROM establishment)[1 + g % 4] END,
               (ARRAY['', 'elected', 'apprentice', 'fph_agent', 'other'])[1 + g % 5], '', false, false,
               'prenom' || g || ' nom' || g, 'nom' || g, 'prenom' || g, now(), g % 3 = 0
        FROM generate_series(1, {USERS}) g""",
    f"""INSERT INTO app_user (username, password_hash, first_name, last_name, email, establishment, status, matricule,
                              is_suspended, force_password_change, search_text, last_name_key, first_name_key, created_at,
                              external, trainer_status)
        SELECT 'bpf.formateur.' || g, 'x', 'Form' || g, 'Ateur' || g, 'formateur' || g || '@example.org',
               CASE WHEN g % 2 = 0 THEN NULL ELSE (SELECT min(id) FROM establishment) END, '', '', false, false,
               '', '', '', now(), g % 2 = 0, CASE WHEN g % 7 = 0 THEN 'external' ELSE '' END
        FROM generate_series(1, {TRAINERS}) g""",
    f"""INSERT INTO training_session (establishment, template, full_name, short_name, visible, start_date, end_date,
                                      id_number, code, certificate_text, progress_block, discussion_block, search_text,
                                      created_at, remote_url, place, delivery)
        SELECT (SELECT array_agg(id ORDER BY id) FROM establishment)[1 + g % 4],
               (SELECT array_agg(id ORDER BY id) FROM course_template WHERE code LIKE 'B%')[1 + g % 40],
               'Session BPF ' || g, 'SB' || g, true, date '2025-01-01' + (g % 364), date '2025-01-01' + (g % 364),
               '', 'BPF' || g, '', false, false, '', now(),
               CASE WHEN g % 5 = 0 THEN 'https://visio.example.org/' || g ELSE '' END, 'Salle ' || g,
               (ARRAY['own', 'own', 'own', 'subcontracted_out', 'subcontracted_in'])[1 + g % 5]
        FROM generate_series(1, {SESSIONS}) g""",
    """INSERT INTO session_slot (session, day, starts, ends)
        SELECT s.id, s.start_date, h.starts, h.ends FROM training_session s
        CROSS JOIN (VALUES (time '09:00', time '12:30'), (time '13:30', time '17:00')) h(starts, ends)
        WHERE s.code LIKE 'BPF%'""",
    f"""INSERT INTO enrolment (session, "user", role, active, enrolled_at, required_done, required_total, percent,
                               trainee_type)
        SELECT s.id, (SELECT array_agg(id ORDER BY id) FROM app_user WHERE username LIKE 'bpf.%' AND username NOT LIKE 'bpf.formateur.%')
                     [1 + (s.id * {PER_SESSION} + k) % {USERS}],
               'learner', true, now(), 0, 0, 0,
               CASE WHEN k % 4 = 0 THEN (ARRAY['private_employee', 'job_seeker', 'individual'])[1 + s.id % 3] ELSE '' END
        FROM training_session s CROSS JOIN generate_series(0, {PER_SESSION - 1}) k WHERE s.code LIKE 'BPF%'
        ON CONFLICT DO NOTHING""",
    """INSERT INTO attendance (enrolment, slot, status, recorded_at)
        SELECT e.id, sl.id, CASE WHEN (e.id + sl.id) % 13 = 0 THEN 'absent' WHEN (e.id + sl.id) % 17 = 0 THEN 'excused'
                                 ELSE 'present' END, now()
        FROM enrolment e JOIN session_slot sl ON sl.session = e.session""",
    f"""INSERT INTO session_trainer (session, "user", added_at)
        SELECT s.id, (SELECT array_agg(id ORDER BY id) FROM app_user WHERE username LIKE 'bpf.formateur.%')[1 + (s.id * 3 + k) % {TRAINERS}], now()
        FROM training_session s CROSS JOIN generate_series(0, 1) k WHERE s.code LIKE 'BPF%' AND (k = 0 OR s.id % 3 = 0)""",
    """INSERT INTO slot_trainer (slot, "user")
        SELECT sl.id, st."user" FROM session_slot sl JOIN session_trainer st ON st.session = sl.session
        WHERE sl.starts = time '09:00' AND sl.session % 4 = 0""",
]


async def main():
    from app import db
    from app.demo import load_demo
    from app.jobs.bpf import compute_year_reports
    from app.queue import connect
    from app.services import progress
    from app.services.bpf import reports
    from app.tables.accounts import User
    from app.tables.learning import Attendance, Enrolment

    await db.open_pool()
    await load_demo(with_sessions=False)
    t0 = time.perf_counter()
    for statement in SEED:
        await User.raw(statement)
    await User.raw("ANALYZE")
    enrolments, records = await Enrolment.count(), await Attendance.count()
    print(f"Dataset: {SESSIONS:,} sessions, {enrolments:,} enrolments, {records:,} attendance records "
          f"(built in {time.perf_counter() - t0:.1f} s)")
    _setup.check(enrolments >= SESSIONS * PER_SESSION * 0.95, f"only {enrolments} enrolments")
    admin = (await User.select(User.id).where(User.username == "admin").first())["id"]
    redis = await connect()
    timings = []
    for run in range(RUNS):
        token = f"bench-bpf-{run}"
        await progress.start(redis, token, admin, "BPF")
        t0 = time.perf_counter()
        await compute_year_reports({"redis": redis}, YEAR, admin, token)
        timings.append(time.perf_counter() - t0)
        state = await progress.get(redis, token)
        _setup.check(state["state"] == "done", f"the job ended {state['state']}: {state.get('message')}")
    report = await reports.load("bpf", YEAR)
    figures = report["figures"]["figures"]
    size = (await User.raw("SELECT length(figures::text) AS n FROM year_report WHERE kind = 'bpf'"))[0]["n"]
    print(f"BPF {YEAR} job (figures + élus' report + YearReport): first {timings[0]:.2f} s, "
          f"median {statistics.median(timings):.2f} s, max {max(timings):.2f} s ({RUNS} runs; target ≤ 10 s)")
    print(f"F-1 total: {figures['f1.total']['people']:,} trainees, {figures['f1.total']['minutes'] // 60:,} h; "
          f"E total: {figures['e.total']['people']:,} trainers, {figures['e.total']['minutes'] // 60:,} h; "
          f"figures and rows kept: {size / 1_048_576:.1f} MB of JSON")
    _setup.check(figures["f1.total"]["people"] > 0 and figures["e.total"]["people"] > 0, "empty figures")
    from app.services.bpf import layout

    t0 = time.perf_counter()
    kept = await reports.load("bpf", YEAR)
    layout.frames(kept["figures"]["figures"])
    print(f"BPF page's figures (YearReport read, JSON decoded, frames laid out): {(time.perf_counter() - t0) * 1000:.0f} ms")
    t0 = time.perf_counter()
    rows, _pages = await reports.named_rows(await reports.stored_rows(YEAR, kept["figures"]["figures"], "f1.total"), 3)
    print(f"Learners behind F-1's total, one page of {len(rows)}: {(time.perf_counter() - t0) * 1000:.0f} ms")
    t0 = time.perf_counter()
    checks = await reports.completeness(YEAR)
    print(f"Completeness check: {(time.perf_counter() - t0) * 1000:.0f} ms "
          "(" + ", ".join(f"{c['key']} {c['count']}" for c in checks) + ")")
    _setup.check(max(timings) <= 10 or _setup.SMOKE, f"BPF job took {max(timings):.1f} s (> 10 s)")
    await redis.aclose()
    await db.close_pool()


if __name__ == "__main__":
    _setup.run(main)
