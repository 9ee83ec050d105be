"""The CSV import of accounts (SPEC A3) as a background job."""

from app.services import imports


async def import_accounts(ctx, batch_id: int) -> dict:
    return await imports.run_import(ctx["redis"], batch_id)
