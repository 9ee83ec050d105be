"""Mail jobs: send one outbox row; sweep the outbox for anything due."""

from app.services import outbox


async def send_mail(ctx, mail_id: int) -> str:
    return await outbox.send_one(ctx["redis"], mail_id)


async def sweep_outbox(ctx) -> int:
    return await outbox.sweep(ctx["redis"])


async def send_mail_group(ctx, group_key: str) -> dict:
    """The mails written together under one key (an import's credentials); each keeps its own
    retries, and one already sent is skipped by its claim."""
    results: dict[str, int] = {}
    for mail_id in await outbox.group_mail_ids(group_key):
        outcome = await outbox.send_one(ctx["redis"], mail_id)
        results[outcome] = results.get(outcome, 0) + 1
    return results
