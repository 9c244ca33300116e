"""HTTP routes, one module per resource: webhooks, links (/r/{code}), clicks (bulk API), health."""

from __future__ import annotations

from fastapi import APIRouter

from receiver.routes import clicks, health, links, webhooks

# Included one by one into the app (not through a parent router): each nesting level costs a
# route match per request, and the webhook path is the hot one.
routers: list[APIRouter] = [webhooks.router, links.router, clicks.router, health.router]
