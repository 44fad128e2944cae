"""The one broadcaster: the only module that talks to the channel layer.

Whatever changes what a board shows (a request, a command result, PBX
events, a session, the clock running out a grace period) ends here as one
group message carrying the status documents of the agents it touched,
encoded once: whole, and as the board fields other agents may see.
Whatever changes who may watch the board ends here too, as an access
message that makes those users' connections read their rights again. Calls
that change a queue's figures end here as the ids of the queues, for the
wallboards to read again; text messages, as their documents.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from typing import Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from agents.models import Agent
from agents.selectors import StatusDocument, public_document, status_documents

STATUS_GROUP = "status"
WALLBOARD_GROUP = "wallboard"  # queue wallboards: told which queues' call figures moved
SMS_GROUP = "sms"  # SMS pages: text messages sent, received or reported on
# A channel layer forgets a group member after its `group_expiry` (an hour on Redis, see settings),
# so the members a crashed server left do not pile up; a board open for days rejoins well before.
REJOIN_SECONDS = 600


class EncodedDocument(TypedDict):
    extension: str
    full: str  # the status document, as JSON
    public: str  # what one agent may see of another, as JSON


class AgentsChanged(TypedDict):
    type: Literal["status.agents"]
    agents: list[EncodedDocument]


class AccessChanged(TypedDict):
    type: Literal["status.access"]
    users: list[int] | None  # None: everyone


class QueuesChanged(TypedDict):
    type: Literal["wallboard.queues"]
    queues: list[int]


class MessagesChanged(TypedDict):
    type: Literal["sms.messages"]
    messages: list[dict]  # sms.selectors.message_documents: each with the user ids that may see it


def encoded(doc: StatusDocument) -> EncodedDocument:
    return EncodedDocument(extension=doc["extension"], full=json.dumps(doc), public=json.dumps(public_document(doc)))


def broadcast_agents(*, agent_ids: Iterable[int]) -> None:
    ids = set(agent_ids)
    if ids:
        docs = status_documents(agents=Agent.objects.filter(pk__in=ids))
        _send(AgentsChanged(type="status.agents", agents=[encoded(doc) for doc in docs]))


_pending = threading.local()


def broadcast_on_commit(*, agent_ids: Iterable[int]) -> None:
    """Announce these agents once the transaction commits, together with every other agent announced in it:
    a supervisor's action on 100 agents is one message, and one read of their documents, not 100."""
    pending = getattr(_pending, "ids", None)
    if pending is None:
        pending = _pending.ids = set()
    pending.update(agent_ids)
    # Every call registers; the first to run sends all, the rest find nothing. Robust: a channel layer that
    # fails must not undo the request's answer nor stop the commands queued after it.
    transaction.on_commit(_flush, robust=True)


def _flush() -> None:
    ids, _pending.ids = getattr(_pending, "ids", None) or set(), None
    broadcast_agents(agent_ids=ids)


def access_changed(*, user_ids: Iterable[int] | None) -> None:
    """These users' rights (everyone's, for None) changed: their connections read them again."""
    _send(AccessChanged(type="status.access", users=None if user_ids is None else sorted(set(user_ids))))


def queues_changed(*, queue_ids: Iterable[int]) -> None:
    """Calls in these queues changed: wallboards read their figures again, once the change is committed."""
    ids = sorted(set(queue_ids))
    if ids:
        message = QueuesChanged(type="wallboard.queues", queues=ids)
        transaction.on_commit(lambda: _send(message, WALLBOARD_GROUP), robust=True)


def sms_changed(*, message_ids: Iterable) -> None:
    """These text messages changed (sent, reported on, received): the pages showing their threads get them, once
    the change is committed."""
    ids = [str(pk) for pk in message_ids]
    if ids:
        transaction.on_commit(lambda: _send_messages(ids), robust=True)


def _send_messages(ids: list[str]) -> None:
    from sms.selectors import message_documents

    _send(MessagesChanged(type="sms.messages", messages=message_documents(ids=ids)), SMS_GROUP)


def _send(message: AgentsChanged | AccessChanged | QueuesChanged | MessagesChanged, group: str = STATUS_GROUP) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)


async def join(channel_name: str, group: str = STATUS_GROUP) -> None:
    await get_channel_layer().group_add(group, channel_name)


async def leave(channel_name: str, group: str = STATUS_GROUP) -> None:
    await get_channel_layer().group_discard(group, channel_name)
