"""The published indicators page (issue 23: ≤ 50 ms cached, ≤ 500 ms cold), on PostgreSQL.

Seeds, set-based: 20 templates of 150 sessions each (3,000 sessions, 2 half-day slots each, 75 % of
them ended in the last 12 months), 20 learners a session (60,000 enrolments of 12,000 people, some
completed, minutes attended), and a « à chaud » survey per session answered by 15 learners (45,000
answers). The measured template has 150 sessions, 3,000 enrolments and 2,250 answers.

Measures, through the real app (ASGI, no login — the page is public): /indicateurs/<code> cold (its
cache key deleted before each run) and cached, and the snippet /indicateurs/<code>/encart cached.
Run: BENCH_REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/indicators.py
(BENCH_SMOKE=1: 2 templates of 4 sessions, one or two runs)
"""

import statistics
import time

import _setup

TEMPLATES, SESSIONS, SEATS, ANSWERS = _setup.size((20, 150, 20, 15), (2, 4, 6, 5), tenfold=(200, 1_500, 20, 15))
PEOPLE = _setup.size(12_000, 20)
COLD, CACHED = _setup.scale((15, 50), (2, 2))
TARGET_COLD, TARGET_CACHED = 500, 50

QUESTIONS = ('[{"text": "Dans l\'ensemble, êtes-vous satisfait(e) de cette formation ?", "type": "scale5", '
             '"required": true, "choices": []}, {"text": "Quelle note globale donnez-vous ?", "type": "scale10", '
             '"required": true, "choices": []}, {"text": "Vos remarques", "type": "text", "required": false, "choices": []}]')


def seed() -> list[str]:
    return [
        f"""INSERT INTO app_user (username, password_hash, first_name, last_name, email, establishment, status, matricule,
                                  is_suspended, force_password_change, search_text, last_name_key, first_name_key, created_at)
            SELECT 'ibench.' || g, 'x', 'Prénom' || g, 'Nom' || g, 'ibench' || g || '@example.org',
                   (SELECT id FROM establishment WHERE code = 'ALP001'), '', '', false, false, '', '', '', now()
            FROM generate_series(1, {PEOPLE}) g""",
        f"""INSERT INTO course_template (code, title, short_name, objectives, duration, certificate_text, progress_block,
                                         discussion_block, visible, search_text, created_at)
            SELECT 'IB' || g, 'Formation publiée ' || g, 'IB' || g, '', '', '', true, true, true, '', now()
            FROM generate_series(1, {TEMPLATES}) g""",
        # Ends spread over 16 months back from today: three in four within the last 12.
        f"""INSERT INTO training_session (establishment, template, full_name, short_name, visible, start_date, end_date,
                                          id_number, code, certificate_text, progress_block, discussion_block, search_text,
                                          created_at)
            SELECT (SELECT id FROM establishment WHERE code = 'ALP001'), t.id, 'Session ' || t.code || '-' || g, 'S' || g,
                   true, current_date - (g * 480 / {SESSIONS}), current_date - (g * 480 / {SESSIONS}), '',
                   t.code || 'B' || g, '', false, false, '', now()
            FROM course_template t, generate_series(1, {SESSIONS}) g WHERE t.code LIKE 'IB%'""",
        """INSERT INTO session_slot (session, day, starts, ends)
            SELECT s.id, s.end_date, h.starts, h.ends FROM training_session s,
                   (VALUES (time '09:00', time '12:30'), (time '13:30', time '17:00')) h(starts, ends)
            WHERE s.code LIKE 'IB%'""",
        f"""WITH ses AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM training_session WHERE code LIKE 'IB%'),
                 people AS (SELECT array_agg(id ORDER BY id) AS ids FROM app_user WHERE username LIKE 'ibench.%')
            INSERT INTO enrolment (session, "user", role, active, enrolled_at, required_done, required_total, percent,
                                   completed_at, attended_minutes)
            SELECT ses.id, people.ids[1 + (ses.n * {SEATS} + k) % {PEOPLE}], 'learner', true, now(), 0, 0, 0,
                   CASE WHEN k % 3 <> 0 THEN now() END, CASE WHEN k % 5 = 0 THEN 210 ELSE 420 END
            FROM ses, people, generate_series(0, {SEATS - 1}) k ON CONFLICT DO NOTHING""",
        # Attendance taken in every session (the minutes attended are set on the enrolments above).
        """INSERT INTO attendance (enrolment, slot, status, recorded_at)
            SELECT DISTINCT ON (e.session) e.id, sl.id, 'absent', now()
            FROM enrolment e JOIN session_slot sl ON sl.session = e.session JOIN training_session s ON s.id = e.session
            WHERE s.code LIKE 'IB%' ORDER BY e.session, e.id, sl.id""",
        f"""INSERT INTO session_activity (session, position, kind, title, content, required, quiz, survey_phase)
            SELECT s.id, 0, 'survey', 'Satisfaction à chaud', '', false, $q${QUESTIONS}$q$, 'hot'
            FROM training_session s WHERE s.code LIKE 'IB%'""",
        f"""WITH e AS (SELECT e.id, e.session, s.template, row_number() OVER (PARTITION BY e.session ORDER BY e.id) AS k
                       FROM enrolment e JOIN training_session s ON s.id = e.session WHERE s.code LIKE 'IB%')
            INSERT INTO survey_response (activity, session, template, phase, enrolment, submitted_on, answers)
            SELECT a.id, e.session, e.template, 'hot', e.id, current_date,
                   json_build_object('0', 1 + e.id % 5, '1', 1 + e.id % 10, '2', 'Très bien')::text
            FROM e JOIN session_activity a ON a.session = e.session AND a.kind = 'survey' WHERE e.k <= {ANSWERS}""",
        "VACUUM ANALYZE",
    ]


def ms(values):
    return f"p50 {statistics.median(values):.1f} ms (min {min(values):.1f}, max {max(values):.1f}, n={len(values)})"


async def measure(client, redis, path, runs, key=None):
    timings, response = [], None
    for _ in range(runs):
        if key:
            await redis.delete(key)
        t0 = time.perf_counter()
        response = await client.get(path)
        timings.append((time.perf_counter() - t0) * 1000)
        _setup.check(response.status_code == 200, f"{path}: HTTP {response.status_code}")
    return timings, response


async def main() -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from app import db
    from app.dates import today
    from app.demo import load_demo
    from app.services import indicators
    from app.tables.catalogue import CourseTemplate

    await db.open_pool()
    await load_demo(with_sessions=False)
    t0 = time.perf_counter()
    async with db.engine().pool.acquire() as conn:
        for statement in seed():
            await conn.execute(statement)
        counts = await conn.fetchrow("SELECT (SELECT count(*) FROM training_session) s, (SELECT count(*) FROM enrolment) e, "
                                     "(SELECT count(*) FROM survey_response) r")
    print(f"Seeded in {time.perf_counter() - t0:.1f} s: {counts['s']:,} sessions, {counts['e']:,} enrolments, "
          f"{counts['r']:,} answers")
    template = (await CourseTemplate.select(CourseTemplate.id).where(CourseTemplate.code == "IB1").first())["id"]
    key = indicators.cache_key(template, indicators.default_period(today()))

    async with _setup.serving() as (application, client_of):
        redis = application.state.redis
        async with client_of() as client:
            cold, page = await measure(client, redis, "/indicateurs/IB1", COLD, key)
            _setup.check("Données du" in page.text and "Satisfaction à chaud" in page.text, "the figures are not shown")
            cached, _ = await measure(client, redis, "/indicateurs/IB1", CACHED)
            embed, snippet = await measure(client, redis, "/indicateurs/IB1/encart", CACHED)
            _setup.check("<script" not in snippet.text, "the snippet holds a script")
            t0 = time.perf_counter()
            figures = await indicators.compute(template, indicators.default_period(today()), today())
            service = (time.perf_counter() - t0) * 1000
        _setup.check(figures["attendance_rate"] is not None, "no attendance rate")
        print(f"  template IB1: {figures['learners']:,} learners, completion {figures['completion_rate']} %, attendance "
              f"{figures['attendance_rate']} %, satisfaction {figures['satisfaction']}")
        print(f"  page cold (cache key deleted): {ms(cold)} — the three queries alone {service:.0f} ms")
        print(f"  page cached: {ms(cached)}; snippet cached: {ms(embed)}; page {len(page.content) / 1024:.1f} KB")
        await redis.delete(key)
    await db.close_pool()
    c, h = statistics.median(cold), statistics.median(cached)
    print(f"Targets: cold ≤ {TARGET_COLD} ms ({'met' if c <= TARGET_COLD else 'MISSED'}: {c:.0f}), "
          f"cached ≤ {TARGET_CACHED} ms ({'met' if h <= TARGET_CACHED else 'MISSED'}: {h:.1f})")


if __name__ == "__main__":
    _setup.run(main)
