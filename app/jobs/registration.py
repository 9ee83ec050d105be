"""Jobs of online registration: the notifications after an address is confirmed (with the BI PDF).
A durable run (app/jobs/kinds.py): the job sweep sends those a lost job never sent."""

from app.services import registration


async def send_request_notifications(ctx, request_id: int) -> int:
    return await registration.send_notifications(request_id, ctx["redis"])
