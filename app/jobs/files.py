"""Stored files no activity uses any more are deleted after a grace period (app/services/files.py)."""

from app.services import files


async def delete_unreferenced_files(ctx) -> int:
    return await files.delete_unreferenced()
