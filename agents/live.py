"""The one broadcaster: the only module that talks to the channel layer.

Whatever changes what a board shows (a request, a command result, PBX
events, a session, the clock running out a grace period) ends here as one
group message carrying the full status documents of the agents it touched.
Consumers decide per connection what each subscriber may see of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from agents.models import Agent
from agents.selectors import StatusDocument, status_documents

STATUS_GROUP = "status"


class AgentsChanged(TypedDict):
    type: Literal["status.agents"]
    agents: list[StatusDocument]


def broadcast_agents(*, agent_ids: Iterable[int]) -> None:
    ids = set(agent_ids)
    layer = get_channel_layer()
    if not ids or layer is None:
        return
    docs = status_documents(agents=Agent.objects.filter(pk__in=ids))
    async_to_sync(layer.group_send)(STATUS_GROUP, AgentsChanged(type="status.agents", agents=docs))


async def join(channel_name: str) -> None:
    await get_channel_layer().group_add(STATUS_GROUP, channel_name)


async def leave(channel_name: str) -> None:
    await get_channel_layer().group_discard(STATUS_GROUP, channel_name)
