"""Memberships changed anywhere (admin, API, shell) are followed on the PBX."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from telephony import services
from telephony.models import QueueMembership


@receiver(post_save, sender=QueueMembership)
def membership_saved(sender, instance: QueueMembership, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        services.membership_changed(membership=instance, present=True)


@receiver(post_delete, sender=QueueMembership)
def membership_deleted(sender, instance: QueueMembership, **kwargs) -> None:
    services.membership_changed(membership=instance, present=False)
