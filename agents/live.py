"""The one broadcaster: the only module that talks to the channel layer.

Everything that changes what a board shows (PBX events, snapshots, command
results) ends up here as one group message per change set.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

STATUS_GROUP = "status"


class MemberStatus(TypedDict):
    queue: str
    extension: str
    on_pbx: bool
    paused: bool
    reason: str
    device_state: str
    in_call: bool
    calls_taken: int


class AgentPbx(TypedDict):
    extension: str
    pbx_status: str
    pbx_state: str


class PbxChanges(TypedDict):
    type: Literal["status.pbx"]
    members: list[MemberStatus]
    agents: list[AgentPbx]


class AgentSync(TypedDict):
    type: Literal["status.sync"]
    extension: str
    availability: str
    sync_state: str
    sync_error: str


def _send(message: PbxChanges | AgentSync) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(STATUS_GROUP, message)


def broadcast_pbx_changes(*, memberships, agents) -> None:
    _send(
        PbxChanges(
            type="status.pbx",
            members=[
                MemberStatus(
                    queue=m.queue.name,
                    extension=m.agent.extension,
                    on_pbx=m.on_pbx,
                    paused=m.paused,
                    reason=m.pause_reason,
                    device_state=m.device_state,
                    in_call=m.in_call,
                    calls_taken=m.calls_taken,
                )
                for m in memberships
            ],
            agents=[AgentPbx(extension=a.extension, pbx_status=a.pbx_status, pbx_state=a.pbx_state) for a in agents],
        )
    )


def broadcast_agent_sync(*, agent) -> None:
    _send(
        AgentSync(
            type="status.sync",
            extension=agent.extension,
            availability=agent.availability,
            sync_state=agent.sync_state,
            sync_error=agent.sync_error,
        )
    )
