"""Survey results of a template with 10,000 answers (issue 23: ≤ 300 ms), on PostgreSQL.

Seeds, set-based: 12,000 learners of ALP001; two templates of 200 sessions each (the measured one
and as much again beside it), each session with a « à chaud » survey of 8 questions (three 1–5
scales, a 1–10 scale, a single and a multiple choice, free text, one more scale), 60 invitations and
50 answers: 10,000 answers per template, 20,000 in all.

Measures:
- the service (two queries, then the counting in Python), admin scope, one template;
- the page /questionnaires?template=… through the real app (ASGI, login, template), for an
  administrator and for the GET of ALP001 (their scope), and its size;
- the Excel download of the same results.
Run: BENCH_REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/survey_results.py
(BENCH_SMOKE=1: 4 sessions of 5 answers per template, one or two runs)
"""

import statistics
import time

import _setup

SESSIONS, INVITED, ANSWERS = _setup.size((200, 60, 50), (4, 6, 5), tenfold=(2_000, 60, 50))  # per template, per session
RUNS = _setup.scale(15, 2)
TARGET_MS = 300

QUESTIONS = (
    '[{"text": "Dans l\'ensemble, êtes-vous satisfait(e) de cette formation ?", "type": "scale5", "required": true, "choices": []},'
    ' {"text": "Les objectifs annoncés ont-ils été atteints ?", "type": "scale5", "required": true, "choices": []},'
    ' {"text": "Comment jugez-vous l\'animation ?", "type": "scale5", "required": true, "choices": []},'
    ' {"text": "Quelle note globale donnez-vous ?", "type": "scale10", "required": true, "choices": []},'
    ' {"text": "Recommanderiez-vous cette formation ?", "type": "single", "required": true, "choices": ["Oui", "Non"]},'
    ' {"text": "Qu\'avez-vous apprécié ?", "type": "multiple", "required": false,'
    '  "choices": ["Le contenu", "L\'animation", "Les supports", "Les échanges"]},'
    ' {"text": "Vos remarques", "type": "text", "required": false, "choices": []},'
    ' {"text": "L\'organisation matérielle vous a-t-elle convenu ?", "type": "scale5", "required": true, "choices": []}]'
)


def seed() -> list[str]:
    learners = SESSIONS * INVITED
    return [
        f"""INSERT INTO app_user (username, password_hash, first_name, last_name, email, establishment, status, matricule,
                                  is_suspended, force_password_change, search_text, last_name_key, first_name_key, created_at)
            SELECT 'sbench.' || g, 'x', 'Prénom' || g, 'Nom' || g, 'sbench' || g || '@example.org',
                   (SELECT id FROM establishment WHERE code = 'ALP001'), '', '', false, false, '', '', '', now()
            FROM generate_series(1, {learners}) g""",
        """INSERT INTO course_template (code, title, short_name, objectives, duration, certificate_text, progress_block,
                                        discussion_block, visible, search_text, created_at)
            SELECT 'SQ' || g, 'Formation mesurée ' || g, 'SQ' || g, '', '', '', true, true, true, '', now()
            FROM generate_series(1, 2) g""",
        f"""INSERT INTO training_session (establishment, template, full_name, short_name, visible, start_date, end_date,
                                          id_number, code, certificate_text, progress_block, discussion_block, search_text,
                                          created_at)
            SELECT (SELECT id FROM establishment WHERE code = 'ALP001'), t.id, 'Session ' || t.code || '-' || g, 'S' || g,
                   true, date '2026-01-05' + g, date '2026-01-05' + g, '', t.code || 'B' || g, '', false, false, '', now()
            FROM course_template t, generate_series(1, {SESSIONS}) g WHERE t.code LIKE 'SQ%'""",
        f"""INSERT INTO session_activity (session, position, kind, title, content, required, quiz, survey_phase)
            SELECT s.id, 0, 'survey', 'Satisfaction à chaud', '', false, $q${QUESTIONS}$q$, 'hot'
            FROM training_session s WHERE s.code LIKE 'SQ%'""",
        # The n-th learner is in the n-th seat of one session of each template.
        f"""WITH seats AS (SELECT s.id AS sid, row_number() OVER (PARTITION BY s.template ORDER BY s.id) - 1 AS rank
                           FROM training_session s WHERE s.code LIKE 'SQ%'),
                 people AS (SELECT id AS uid, row_number() OVER (ORDER BY id) - 1 AS n FROM app_user
                            WHERE username LIKE 'sbench.%')
            INSERT INTO enrolment (session, "user", role, active, enrolled_at, required_done, required_total, percent)
            SELECT seats.sid, people.uid, 'learner', true, now(), 0, 0, 0
            FROM seats JOIN people ON people.n / {INVITED} = seats.rank""",
        f"""WITH e AS (SELECT e.id, e.session, row_number() OVER (PARTITION BY e.session ORDER BY e.id) AS k
                       FROM enrolment e JOIN training_session s ON s.id = e.session WHERE s.code LIKE 'SQ%')
            INSERT INTO survey_invitation (enrolment, activity, opens_at, reminders, answered, answered_on)
            SELECT e.id, a.id, now(), 0, e.k <= {ANSWERS}, CASE WHEN e.k <= {ANSWERS} THEN date '2026-03-01' END
            FROM e JOIN session_activity a ON a.session = e.session AND a.kind = 'survey'""",
        """INSERT INTO survey_response (activity, session, template, phase, enrolment, submitted_on, answers)
            SELECT i.activity, s.id, s.template, 'hot', i.enrolment, i.answered_on,
                   json_build_object('0', 1 + i.id % 5, '1', 1 + (i.id * 7) % 5, '2', 1 + (i.id * 3) % 5,
                                     '3', 1 + i.id % 10, '4', i.id % 2, '5', json_build_array(i.id % 3, 3),
                                     '6', 'Remarque ' || i.id || ' : très bonne formation, merci.',
                                     '7', 1 + (i.id * 11) % 5)::text
            FROM survey_invitation i JOIN enrolment e ON e.id = i.enrolment JOIN training_session s ON s.id = e.session
            WHERE i.answered""",
        "VACUUM ANALYZE",
    ]


def ms(values):
    return f"p50 {statistics.median(values):.0f} ms (min {min(values):.0f}, max {max(values):.0f}, n={len(values)})"


async def timed(call, runs):
    timings, last = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        last = await call()
        timings.append((time.perf_counter() - t0) * 1000)
    return timings, last


async def main() -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from app import db
    from app.demo import load_demo
    from app.services.scope import Scope
    from app.services.surveys import results
    from app.tables.catalogue import CourseTemplate
    from tests.helpers import login

    await db.open_pool()
    await load_demo(with_sessions=False)
    t0 = time.perf_counter()
    async with db.engine().pool.acquire() as conn:
        for statement in seed():
            await conn.execute(statement)
        total = await conn.fetchval("SELECT count(*) FROM survey_response")
    template = (await CourseTemplate.select(CourseTemplate.id).where(CourseTemplate.code == "SQ1").first())["id"]
    print(f"Seeded in {time.perf_counter() - t0:.1f} s: {total:,} answers, {SESSIONS * ANSWERS:,} of the template measured")

    everything = Scope(everything=True, establishment_ids=frozenset(), delegation_ids=frozenset())
    query = results.parse_query({"template": str(template)})

    async def service():
        return results.aggregate(*await results.fetch(everything, query))

    timings, result = await timed(service, RUNS)
    _setup.check(result["answers"] == SESSIONS * ANSWERS, f"{result['answers']} answers counted")
    _setup.check(result["invited"] == SESSIONS * INVITED, f"{result['invited']} invited")
    _setup.check(len(result["questions"]) == 8, "8 questions grouped across the sessions")
    print(f"  service (2 queries + counting), {result['answers']:,} answers: {ms(timings)}")
    fetch_t, _ = await timed(lambda: results.fetch(everything, query), RUNS)
    print(f"    of which the two queries: {ms(fetch_t)}")

    async with _setup.serving() as (application, client_of):
        pages = {}
        async with client_of() as admin_c, client_of() as get_c:
            await login(admin_c, "admin")
            await login(get_c, "alp001.get")
            path = f"/questionnaires?template={template}"
            for label, client in (("administrator", admin_c), ("GET of ALP001", get_c)):
                timings, response = await timed(lambda: client.get(path), RUNS)
                _setup.check(response.status_code == 200, f"{label}: HTTP {response.status_code} {response.headers.get('location')}")
                _setup.check(f"{SESSIONS * ANSWERS:,}".replace(",", "\u202f") in response.text, f"{label}: count not shown")
                pages[label] = statistics.median(timings)
                print(f"  page {path} ({label}): {ms(timings)}, {len(response.content) / 1024:.0f} KB of HTML")
            timings, response = await timed(lambda: admin_c.get(path + "&export=xlsx"), max(1, RUNS // 3))
            _setup.check(response.content.startswith(b"PK"), "the Excel is not an xlsx file")
            print(f"  Excel download: {ms(timings)}, {len(response.content) / 1024:.0f} KB")
    await db.close_pool()
    worst = max(pages.values())
    print(f"Target: results of a template with 10,000 answers ≤ {TARGET_MS} ms — page p50 {worst:.0f} ms "
          f"({'met' if worst <= TARGET_MS else 'MISSED'})")


if __name__ == "__main__":
    _setup.run(main)
