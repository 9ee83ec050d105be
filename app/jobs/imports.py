"""The CSV import of accounts (SPEC A3) as background jobs: the analysis of an uploaded file for
its preview, then the import itself."""

from app.services import imports


async def analyse_import(ctx, batch_id: int, file_id: int) -> dict:
    return await imports.analyse_upload(ctx["redis"], batch_id, file_id)


async def import_accounts(ctx, batch_id: int) -> dict:
    return await imports.run_import(ctx["redis"], batch_id)
