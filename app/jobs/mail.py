"""Mail jobs: send one outbox row; sweep the outbox for anything due."""

from app.services import outbox


async def send_mail(ctx, mail_id: int) -> str:
    return await outbox.send_one(ctx["redis"], mail_id)


async def sweep_outbox(ctx) -> int:
    return await outbox.sweep(ctx["redis"])


async def send_mails(ctx, mail_ids: list[int]) -> dict:
    """Many mails of one cause (an import's credentials); each keeps its own retries."""
    results: dict[str, int] = {}
    for mail_id in mail_ids:
        outcome = await outbox.send_one(ctx["redis"], mail_id)
        results[outcome] = results.get(outcome, 0) + 1
    return results
