"""Certificates of training follow-up (« Attestation de suivi de formation », SPEC D3).

Issued in the transaction that completes the enrolment (`learning.refresh_and_issue`, after an
activity or attendance), and idempotently on first request for an enrolment completed some other
way (`for_enrolment`): an enrolment gets a certificate by itself once, when it has none at all; after
a revocation only a manager's « Réémettre » makes a new one.

The snapshot is what the certificate states, frozen at issue (with the version of the session's
certificate text that produced it): the PDF is rendered again from it, byte for byte (its metadata
dates are the issue date), and its SHA-256 is kept to verify a copy. The row is written in the
completion's transaction with no hash yet; the PDF is rendered and hashed after commit (`seal`:
inline for a few, by the `seal_certificates` job for many), so WeasyPrint never holds a
transaction open. A certificate still unsealed is rendered on its first download or verification
and sealed then: it is downloadable the moment its row is committed. One whose seal job could not be
queued or was lost is sealed by the `seal_unsealed_certificates` cron a minute after its issue.

Verification codes: 9 random characters of an unambiguous alphabet (no 0/O/1/I/L), then a check
character: the sum of each character's value times its position (1 to 9), modulo 31. 31 is prime
and larger than the positions, so any single wrong character and any swap of two neighbours is
detected. Shown as XXXXX-XXXXX; typed with or without the dash, spaces, lower case.

Where: ``common.py`` codes, placeholders and the template text; ``render.py`` snapshots and
the PDF; ``issue.py`` new certificates and when they are due; ``seal.py`` rendering and hashing
after commit (inline, job or sweep); ``read.py`` lists, downloads and the public verification;
``changes.py`` revocation, new versions and the mail to the learner; ``provider.py`` the training
provider's settings (« dispensateur », issue 22); ``realisation.py`` the certificat de réalisation
(kind "realisation"); ``evaluation.py`` the quiz results of the attestation de fin de formation.
"""

from app.services.certificates.changes import (  # noqa: F401
    mail_to_learner,
    reissue,
    revoke,
)
from app.services.certificates.common import (  # noqa: F401
    ALPHABET,
    DEFAULT_TEXT,
    KIND_LABELS,
    LAYOUT,
    LAYOUTS,
    PLACEHOLDERS,
    STATUS_LABELS,
    UPLOAD_MAX_BYTES,
    check_char,
    display_code,
    new_code,
    normalize_code,
    template_errors,
)
from app.services.certificates.issue import (  # noqa: F401
    UNSEALED,
    _insert,
    _new_rows,
    issue_due,
    issue_for_enrolments,
)
from app.services.certificates.read import (  # noqa: F401
    for_enrolment,
    for_enrolment_kinds,
    for_session,
    in_scope,
    learner_certificate,
    pdf_matches,
    pdf_of,
    verify,
)
from app.services.certificates.render import (  # noqa: F401
    _facts,
    _snapshot,
    render,
    render_sync,
    with_assets,
)
from app.services.certificates import provider  # noqa: F401
from app.services.certificates.seal import (  # noqa: F401
    seal,
    seal_now,
    seal_unsealed,
)
from app.services.certificates.render import CIVILITY_SQL  # noqa: F401
from app.services.certificates.seal import RENDER_ATTEMPTS  # noqa: F401
