"""HTTP routes, one module per resource: webhooks, links (/r/{code}), clicks (bulk API), health."""

from __future__ import annotations

from fastapi import APIRouter

from receiver.routes import clicks, health, links, webhooks

api_router = APIRouter()
api_router.include_router(webhooks.router)
api_router.include_router(links.router)
api_router.include_router(clicks.router)
api_router.include_router(health.router)
