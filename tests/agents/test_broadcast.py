"""What the broadcaster sends, and when: after the commit, never for a change rolled back, and one message for
everything a supervisor's action announces together."""

from __future__ import annotations

import json

import pytest
from django.db import transaction

from agents import live
from tests.factories import agent_on


@pytest.fixture
def sent(monkeypatch):
    messages = []
    monkeypatch.setattr(live, "_send", lambda message, group=live.STATUS_GROUP: messages.append(message))
    return messages


def announced(message) -> dict:
    return {doc["extension"]: json.loads(doc["full"]) for doc in message["agents"]}


def test_a_change_rolled_back_is_never_announced(db, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            live.broadcast_on_commit(changed={1: {"extension": "2001", "availability": "on_break"}})
            raise RuntimeError("the request failed after all")
        with transaction.atomic():
            live.broadcast_on_commit(changed={2: {"extension": "2002", "availability": "available"}})
    assert [announced(m) for m in sent] == [{"2002": {"extension": "2002", "availability": "available"}}]


def test_what_is_announced_together_is_one_message_sent_before_what_was_queued(
    db, ast_pbx, sent, django_capture_on_commit_callbacks
):
    agents = [agent_on(ast_pbx, str(2100 + i)) for i in range(3)]
    order = []
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic(), live.together():
        for agent in agents:
            live.broadcast_on_commit(changed={agent.pk: {"extension": agent.extension, "sync_state": "pending"}})
            transaction.on_commit(lambda: order.append(len(sent)))  # a command queued meanwhile: runs after
        live.broadcast_on_commit(agent_ids=[agents[0].pk])  # and one whole document
    assert len(sent) == 1 and order == [1, 1, 1]
    docs = announced(sent[0])
    assert set(docs) == {"2100", "2101", "2102"} and "queues" in docs["2100"] and "queues" not in docs["2101"]
