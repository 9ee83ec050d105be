"""Jobs of online registration: the notifications after an address is confirmed (with the BI PDF),
and the sweep that sends those a lost job never sent."""

from app.services import registration


async def send_request_notifications(ctx, request_id: int) -> int:
    return await registration.send_notifications(request_id, ctx["redis"])


async def sweep_request_notifications(ctx) -> int:
    """Cron: confirmed requests never notified (the queue refused the job, a worker died) are
    notified now, once — until every job is durable."""
    return await registration.sweep_unnotified(ctx["redis"])
