"""One router per resource; `ROUTERS` is what the app includes, in the order the API docs list them."""

from __future__ import annotations

from shoprec.serving.routers import admin, audiences, events, health, items, recommendations, users

ROUTERS = [
    recommendations.router,
    items.router,
    events.router,
    users.router,
    audiences.router,
    admin.router,
    health.router,
]

__all__ = ["ROUTERS"]
