"""The one broadcaster: the only module that talks to the channel layer.

Whatever changes what a board shows (a request, a command result, PBX
events, a session, the clock running out a grace period) ends here as one
group message about the agents it touched, each encoded once: whole, and as
the board fields other agents may see. A request, a command result and the
PBX's events say which fields they changed, and only those go (built from
what the caller has in hand, without reading the agent again); anything else
sends the whole document. Whatever changes who may watch the board ends here
too, as an access message that makes those users' connections read their
rights again. Calls that change a queue's figures end here as the ids of the
queues, for the wallboards to read again; text messages, as their documents.

Each web process is one member of each group it has connections for (its
`Hub`), and hands every message to its own connections: one change is one
layer message per process, not one per connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from typing import Literal, Protocol, TypedDict
from weakref import WeakKeyDictionary

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from agents.models import Agent
from agents.selectors import public_fields, status_documents
from mayday import process

log = logging.getLogger(__name__)

STATUS_GROUP = "status"
WALLBOARD_GROUP = "wallboard"  # queue wallboards: told which queues' call figures moved
SMS_GROUP = "sms"  # SMS pages: text messages sent, received or reported on
# A channel layer forgets a group member after its `group_expiry` (an hour on Redis, see settings),
# so the members a crashed server left do not pile up; a process watching for days rejoins well before.
REJOIN_SECONDS = 600


class EncodedDocument(TypedDict):
    extension: str
    full: str  # the status document, or the fields of it that changed, as JSON
    public: str | None  # what one agent may see of that, as JSON; None when it is nothing


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


def encoded(doc: Mapping) -> EncodedDocument:
    public = public_fields(doc)
    return EncodedDocument(
        extension=doc["extension"], full=json.dumps(doc), public=json.dumps(public) if len(public) > 1 else None
    )


def broadcast_agents(*, agent_ids: Iterable[int] = (), changed: Mapping[int, dict] | None = None) -> None:
    """Announce agents now: those of `agent_ids` whole (read here), and for each agent of `changed` (by id) the
    fields given (each with its `extension`)."""
    whole = set(agent_ids)
    docs = [encoded(fields) for pk, fields in (changed or {}).items() if pk not in whole]
    if whole:
        docs += [encoded(doc) for doc in status_documents(agents=Agent.objects.filter(pk__in=whole))]
    if docs:
        _send(AgentsChanged(type="status.agents", agents=docs))


_together = threading.local()


def broadcast_on_commit(*, agent_ids: Iterable[int] = (), changed: Mapping[int, dict] | None = None) -> None:
    """Announce these agents (as broadcast_agents does) once the transaction commits; nothing if it rolls back.
    Inside `together()`, with everything else announced there."""
    batch = getattr(_together, "batch", None)
    if batch is not None:
        batch[0].update(agent_ids)
        for pk, fields in (changed or {}).items():
            batch[1].setdefault(pk, {}).update(fields)  # announced twice: the later fields win
        return
    ids, fields = set(agent_ids), dict(changed or {})
    # Robust: a channel layer that fails must not undo the request's answer nor stop the commands queued after it.
    transaction.on_commit(lambda: broadcast_agents(agent_ids=ids, changed=fields), robust=True)


@contextmanager
def together():
    """Whatever is announced inside goes out as one message when the transaction commits (a supervisor's action on
    100 agents is one message, and one read of their documents, not 100), before anything queued inside runs."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("together() announces on commit: use it inside a transaction")
    _together.batch = batch = (set(), {})
    transaction.on_commit(lambda: broadcast_agents(agent_ids=batch[0], changed=batch[1]), robust=True)
    try:
        yield
    finally:
        _together.batch = None


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


class Subscriber(Protocol):
    async def deliver(self, message: dict) -> None:
        """Take one of the group's messages (in the hub's task: never wait on anything slow here)."""


class Hub:
    """This process's member of one group: it joins on the first subscriber (a connection), hands each message
    to every subscriber in the order received, rejoins every REJOIN_SECONDS, and leaves with the last."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.subscribers: dict[Subscriber, None] = {}  # in the order they came
        self.lock = asyncio.Lock()
        self.channel = ""
        self.tasks: list[asyncio.Task] = []

    async def subscribe(self, subscriber: Subscriber) -> None:
        """Returns once the group is joined: whatever is sent to it from then on reaches `subscriber`."""
        async with self.lock:
            self.subscribers[subscriber] = None
            if not self.tasks:
                layer = get_channel_layer()
                self.channel = await layer.new_channel()
                await layer.group_add(self.group, self.channel)
                self.tasks = [asyncio.ensure_future(self._receive()), asyncio.ensure_future(self._rejoin())]

    async def unsubscribe(self, subscriber: Subscriber) -> None:
        async with self.lock:
            self.subscribers.pop(subscriber, None)
            if not self.subscribers and self.tasks:
                for task in self.tasks:
                    process.stop(task)
                self.tasks = []
                await get_channel_layer().group_discard(self.group, self.channel)

    async def _receive(self) -> None:
        layer = get_channel_layer()
        while True:
            try:
                message = await layer.receive(self.channel)
            except Exception:  # the layer is away (Redis restarting): try again shortly
                log.exception("group %s: could not receive; trying again", self.group)
                await asyncio.sleep(1)
                continue
            for subscriber in list(self.subscribers):
                try:
                    await subscriber.deliver(message)
                except Exception:  # one connection's fault must not keep the message from the others
                    log.exception("group %s: a subscriber could not take a %s message", self.group, message["type"])

    async def _rejoin(self) -> None:
        """Rejoin before the layer forgets this member; a failure is logged and tried again next time."""
        while True:
            await asyncio.sleep(REJOIN_SECONDS)
            try:
                await get_channel_layer().group_add(self.group, self.channel)
            except Exception:
                log.exception("group %s: could not rejoin", self.group)


_hubs: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Hub]] = WeakKeyDictionary()


def hub(group: str) -> Hub:
    """This event loop's (this web process's) hub for `group`."""
    hubs = _hubs.setdefault(asyncio.get_running_loop(), {})
    if group not in hubs:
        hubs[group] = Hub(group)
    return hubs[group]
