"""Mail jobs: send one outbox row; sweep the outbox for anything due."""

from app.services import outbox


async def send_mail(ctx, mail_id: int) -> str:
    return await outbox.send_one(ctx["redis"], mail_id)


async def sweep_outbox(ctx) -> int:
    return await outbox.sweep(ctx["redis"])
