"""Memberships and routing data changed anywhere (admin, API, shell) are followed on the PBX."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from agents.models import Agent
from telephony import services
from telephony.models import Did, InboundRoute, OutboundRoute, PrefixRoute, Queue, QueueMembership, Trunk


@receiver(post_save, sender=QueueMembership)
def membership_saved(sender, instance: QueueMembership, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        services.membership_changed(membership=instance, present=True)


@receiver(post_delete, sender=QueueMembership)
def membership_deleted(sender, instance: QueueMembership, **kwargs) -> None:
    services.membership_changed(membership=instance, present=False)


# What the routing data is made of: a change to any of them may change what a PBX should hold. Rare edits by
# supervisors; every enabled PBX compares and writes only what differs.
for model in (Did, Trunk, PrefixRoute, OutboundRoute, InboundRoute, Queue):
    post_save.connect(lambda raw=False, **kwargs: raw or services.routing_changed(), sender=model, weak=False)
    post_delete.connect(lambda **kwargs: services.routing_changed(), sender=model, weak=False)


@receiver(pre_save, sender=Agent)
def agent_saving(sender, instance: Agent, update_fields=None, raw: bool = False, **kwargs) -> None:
    # Status changes save only their own fields; an edit may change what routing holds of the agent: its default
    # DID under its extension on its PBX. Only then are the PBXs it was and is on pushed.
    instance._routing_pbxs = set()
    if raw or (update_fields is not None and not {"default_did", "extension", "pbx"} & set(update_fields)):
        return
    was = Agent.objects.filter(pk=instance.pk).values_list("default_did_id", "extension", "pbx_id").first()
    now = (instance.default_did_id, instance.extension, instance.pbx_id)
    if was != now and (instance.default_did_id or (was and was[0])):
        instance._routing_pbxs = {instance.pbx_id, *([was[2]] if was else [])}


@receiver(post_save, sender=Agent)
def agent_saved(sender, instance: Agent, **kwargs) -> None:
    if getattr(instance, "_routing_pbxs", None):
        services.routing_changed(pbx_ids=instance._routing_pbxs)


@receiver(post_delete, sender=Agent)
def agent_deleted(sender, instance: Agent, **kwargs) -> None:
    if instance.default_did_id:
        services.routing_changed(pbx_ids=[instance.pbx_id])
