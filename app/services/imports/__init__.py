"""CSV import of accounts, one file per establishment (SPEC A3).

upload -> ``read_file`` (whole-file checks: nothing is written if the file is refused)
       -> ``upload`` stores the file and a batch "analysing"; a job (``analyse_upload``) runs
          ``analyse`` and writes one ImportRow per line, with its problems and the decisions it
          offers -> the GET decides per problem row -> ``confirm`` enqueues
       -> ``run_import`` (the job): set-based, in one transaction, so a crash leaves nothing half
          done and a re-run starts clean.

The steps live in the modules of this package: ``read`` (and ``xlsx``, the workbook guard),
``analyse``, ``upload`` (the web upload and the analysis job), ``batches`` (storing, the preview's
view and decisions, confirming) and ``apply`` (the import job); ``common`` holds what they share. The names the controllers, the job and the lists use are
importable from here.
"""

from app.services.imports.analyse import analyse
from app.services.imports.apply import run_import
from app.services.imports.batches import (
    batch_in_scope,
    batch_summary,
    cohorts_to_create,
    confirm,
    create_batch,
    give_up,
    set_decision,
    set_decision_for_all,
)
from app.services.imports.common import (
    CREATE_DECISIONS,
    DECISION_LABELS,
    ROW_COLUMNS,
    UPDATE_DECISIONS,
    USER_COLUMNS,
    ImportRejected,
)
from app.services.imports.read import EXPECTED_TEXT, ParsedFile, read_file
from app.services.imports.upload import AGAIN, analyse_upload, give_up_analysis, upload

__all__ = [
    "AGAIN", "CREATE_DECISIONS", "DECISION_LABELS", "EXPECTED_TEXT", "ROW_COLUMNS", "UPDATE_DECISIONS", "USER_COLUMNS",
    "ImportRejected", "ParsedFile", "analyse", "analyse_upload", "batch_in_scope", "batch_summary", "cohorts_to_create", "confirm",
    "create_batch", "give_up", "give_up_analysis", "read_file", "run_import", "set_decision", "set_decision_for_all", "upload",
]
