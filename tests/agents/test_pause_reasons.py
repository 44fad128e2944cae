"""Pause reasons: one name whatever its letter case, looked up exactly, new ones last, an explicit default."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from agents import services
from agents.models import Availability, PauseReason, StatusSource
from agents.selectors import default_pause_reason


def test_names_are_unique_whatever_the_letter_case(client, supervisor):
    client.force_login(supervisor)
    response = client.post(reverse("admin:agents_pausereason_add"), {"name": "training", "active": "on"})
    assert response.status_code == 200 and "“Training” already exists" in response.content.decode()
    with pytest.raises(IntegrityError):
        PauseReason.objects.create(name="TRAINING")


def test_a_break_is_recorded_with_the_reason_exactly_as_named(agent):
    services.agent_request_status(agent=agent, availability=Availability.ON_BREAK, reason="Training", source="api")
    agent.refresh_from_db()
    assert agent.pause_reason.name == "Training"
    with pytest.raises(Exception, match="Unknown pause reason 'training'"):
        services.agent_request_status(agent=agent, availability=Availability.ON_BREAK, reason="training", source="api")


def test_a_new_reason_goes_last_and_does_not_become_the_default(client, supervisor):
    before = default_pause_reason()
    client.force_login(supervisor)
    response = client.post(reverse("admin:agents_pausereason_add"), {"name": "Coaching", "active": "on"})
    assert response.status_code == 302
    assert list(PauseReason.objects.filter(active=True))[-1].name == "Coaching"
    assert default_pause_reason() == before


def test_the_default_is_chosen_explicitly_and_used_for_a_break_without_a_reason(agent):
    assert default_pause_reason().name == "Break"  # marked by the migration: the first one before
    lunch = PauseReason.objects.get(name="Lunch")
    lunch.is_default = True
    lunch.save()
    assert list(PauseReason.objects.filter(is_default=True)) == [lunch]  # the mark moved
    services.agent_request_status(agent=agent, availability=Availability.ON_BREAK, source=StatusSource.API)
    agent.refresh_from_db()
    assert agent.pause_reason == lunch


def test_an_inactive_reason_cannot_be_the_default(db):
    from django.core.exceptions import ValidationError

    reason = PauseReason(name="Gone", active=False, is_default=True)
    with pytest.raises(ValidationError, match="must be active"):
        reason.full_clean()


@pytest.mark.skipif(connection.vendor == "mysql", reason="MySQL's collation never let such names both exist")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_merges_names_that_differ_only_by_case(capsys):
    from tests.factories import AgentFactory

    agent = AgentFactory()  # made with today's model, before the schema goes back to one without its newer columns
    executor = MigrationExecutor(connection)
    executor.migrate([("agents", "0006_supervisors_revoke_tokens")])
    try:
        old = executor.loader.project_state([("agents", "0006_supervisors_revoke_tokens")]).apps
        Reason, Agent = old.get_model("agents", "PauseReason"), old.get_model("agents", "Agent")
        training = Reason.objects.get(name="Training")
        clash = Reason.objects.create(name="training", display_order=9)
        Agent.objects.filter(pk=agent.pk).update(pause_reason_id=clash.pk)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert "“training” merged into “Training” (1 agent(s) moved)" in capsys.readouterr().out
    assert list(PauseReason.objects.filter(name__iexact="training").values_list("name", flat=True)) == ["Training"]
    agent.refresh_from_db()
    assert agent.pause_reason_id == training.pk
