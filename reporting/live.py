"""Live figures for the wallboard: the queues whose calls changed are announced once the change is committed."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

WALLBOARD_GROUP = "wallboard"


def queues_changed(queue_ids: set[int]) -> None:
    if queue_ids:
        transaction.on_commit(lambda: _send(sorted(queue_ids)), robust=True)


def _send(queue_ids: list[int]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(WALLBOARD_GROUP, {"type": "wallboard.queues", "queues": queue_ids})
