"""factory_boy factories for the core models."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from agents.models import Agent, Availability, PauseReason
from telephony.models import Did, PbxKind, PbxServer, Queue, QueueMembership

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def groups(self, create, names, **kwargs):
        for name in names or []:
            self.groups.add(Group.objects.get_or_create(name=name)[0])
        if create:
            self.save()


class PbxServerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PbxServer

    name = factory.Sequence(lambda n: f"pbx{n}")
    kind = PbxKind.ASTERISK
    host = "127.0.0.1"
    port = 5038
    username = "mayday"
    secret = "s3cret-value"


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent

    extension = factory.Sequence(lambda n: str(2000 + n))
    user = factory.SubFactory(UserFactory, username=factory.SelfAttribute("..extension"), groups=["Agents"])
    display_name = factory.Faker("name")
    pbx = factory.SubFactory(PbxServerFactory)


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Queue

    name = factory.Sequence(lambda n: f"queue{n}")
    pbx = factory.SubFactory(PbxServerFactory)
    strategy = "ringall"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QueueMembership

    agent = factory.SubFactory(AgentFactory)
    queue = factory.SubFactory(QueueFactory, pbx=factory.SelfAttribute("..agent.pbx"))


class DidFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Did

    number = factory.Sequence(lambda n: f"0323{n:06d}")
    label = factory.Sequence(lambda n: f"Outlet {n}")


class PauseReasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PauseReason
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Reason {n}")


def agent_on(pbx, extension="2001", availability=Availability.AVAILABLE, reason=None, queues=("support", "sales")):
    """An agent on this PBX, member of these queues (created as needed)."""
    agent = AgentFactory(
        extension=extension,
        pbx=pbx,
        availability=availability,
        pause_reason=PauseReason.objects.get_or_create(name=reason)[0] if reason else None,
    )
    strategy = "ringall" if pbx.kind == "asterisk" else "top-down"
    for name in queues:
        queue = Queue.objects.filter(pbx=pbx, name=name).first() or QueueFactory(name=name, pbx=pbx, strategy=strategy)
        MembershipFactory(agent=agent, queue=queue)
    return agent


def ami_state(sim, extension="2001"):
    """{queue: (paused, reason)} of this extension in the Asterisk simulator."""
    return {
        q: (m.paused, m.reason) for q, s in sim.sim.ami.queues.items() if (m := s.members.get(f"PJSIP/{extension}"))
    }
