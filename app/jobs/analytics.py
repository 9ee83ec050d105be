"""Keeps the network's unfiltered dashboard warm (the cache expires after CACHE_TTL)."""

from app.services import analytics


async def refresh_analytics(ctx) -> float:
    return await analytics.refresh_everything(ctx["cache"])
