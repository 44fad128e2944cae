"""Whatever changes who may watch the status board tells the open connections, after commit.

Roles and permissions, the account (active, superuser, password, deleted),
its agent, its API tokens and its sign-out all count. A password change and
a sign-out also revoke the user's API tokens. Changes made behind
the ORM's back (bulk `update()`, raw SQL) are not seen until reconnect.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model, user_logged_out
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver
from knox.models import AuthToken

from agents import live
from agents.models import Agent
from mayday.tokens import tokens_revoke

User = get_user_model()
ACCOUNT_FIELDS = {"is_active", "is_superuser", "password"}  # a save of only `last_login` changes no rights


def _changed(user_ids) -> None:
    transaction.on_commit(lambda: live.access_changed(user_ids=user_ids))


@receiver(pre_save, sender=User)
def user_saving(sender, instance, raw=False, **kwargs) -> None:
    # set_password() leaves the new raw password in `_password` until the save; a hash that Django upgrades
    # on sign-in (new iterations) is saved without it, and is no change of password.
    instance._password_changed = bool(instance.pk) and not raw and instance._password is not None


@receiver(post_save, sender=User)
def user_saved(sender, instance, created, update_fields=None, raw=False, **kwargs) -> None:
    if getattr(instance, "_password_changed", False):
        instance._password_changed = False
        tokens_revoke(user=instance)  # their deletion tells the connections opened with them
    if not created and not raw and (update_fields is None or ACCOUNT_FIELDS & set(update_fields)):
        _changed([instance.pk])


@receiver(post_delete, sender=User)
@receiver(post_delete, sender=AuthToken)
@receiver(post_delete, sender=Agent)
def owner_changed(sender, instance, **kwargs) -> None:
    _changed([instance.pk if sender is User else instance.user_id])


@receiver(user_logged_out)
def signed_out(sender, request, user, **kwargs) -> None:
    """Signing out ends everything signed in as this user: the session, and every API token."""
    if user is not None:
        tokens_revoke(user=user)
        _changed([user.pk])


@receiver(post_save, sender=Agent)
def agent_saved(sender, instance, created, update_fields=None, raw=False, **kwargs) -> None:
    # Status changes save only their own fields; an edit that may move the agent to another user asks everyone.
    if not raw and (created or update_fields is None or "user" in update_fields):
        _changed([instance.user_id] if created else None)


@receiver(m2m_changed, sender=User.groups.through)
@receiver(m2m_changed, sender=User.user_permissions.through)
def user_roles_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        _changed(pk_set if reverse else [instance.pk])  # a reverse clear has no pk_set: everyone


@receiver(m2m_changed, sender=Group.permissions.through)
@receiver(post_delete, sender=Group)
def role_changed(sender, **kwargs) -> None:
    if kwargs.get("action", "post_delete").startswith("post_"):
        _changed(None)
