"""The demo a newcomer opens shows the learning half too: the finishers of the session in progress
hold a sealed certificate that verifies."""

import hashlib

from app.demo import load_demo
from app.services import certificates
from app.tables.catalogue import TrainingSession
from app.tables.certificates import Certificate


async def test_the_demo_session_in_progress_has_sealed_certificates(clean):
    await load_demo()
    rows = await Certificate.select(Certificate.id, Certificate.code, Certificate.pdf_sha256,
                                    Certificate.enrolment.session.as_alias("session"))
    assert rows, "the demo's finishers should hold a certificate"
    assert all(r["pdf_sha256"] != certificates.UNSEALED for r in rows)
    assert len({r["session"] for r in rows}) == 1
    assert await TrainingSession.exists().where(TrainingSession.id == rows[0]["session"])
    found = await certificates.verify(rows[0]["code"])
    assert found is not None and found["status"] == "valid"
    issued = (await certificates.for_session(rows[0]["session"]))[0]
    assert hashlib.sha256(await certificates.pdf_of(issued)).hexdigest() == issued["pdf_sha256"]
