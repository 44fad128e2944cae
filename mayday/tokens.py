"""API tokens (django-rest-knox): only a digest is stored, the first characters (`token_key`) name a token.

A token is valid for MAYDAY_TOKEN_TTL_HOURS after its last use, and never
longer than MAYDAY_TOKEN_MAX_DAYS after it was issued. Its owner and
supervisors (for users who can do no more than they can) list and revoke
tokens; changing the password or signing out revokes all of a user's tokens,
and the websockets opened with them close (agents.signals).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from knox.auth import TokenAuthentication
from knox.models import AuthToken
from rest_framework.exceptions import AuthenticationFailed

from agents.selectors import may_manage_user


def token_issue(*, user) -> tuple[AuthToken, str]:
    """A new token for this user: the row, and the token itself (shown once, never stored)."""
    return AuthToken.objects.create(user=user)


def token_user(*, key: str):
    """The active user a token belongs to (using it renews it), or None for a wrong or expired one."""
    try:
        user, _ = TokenAuthentication().authenticate_credentials(key.encode())
    except (AuthenticationFailed, UnicodeError):
        return None
    return user


def tokens_visible_to(*, user) -> list[AuthToken]:
    """The user's own tokens; for supervisors also those of every user they may manage."""
    tokens: QuerySet[AuthToken] = AuthToken.objects.select_related("user").order_by("-created")
    if not user.has_perm("agents.change_agent"):
        return list(tokens.filter(user=user))
    owners = {
        u.pk: may_manage_user(actor=user, user=u)
        for u in get_user_model().objects.filter(auth_token_set__isnull=False).distinct()
    }
    return [t for t in tokens if owners.get(t.user_id)]


def tokens_revoke(*, user) -> int:
    """Revoke every token of this user (a password change, a sign-out)."""
    return AuthToken.objects.filter(user=user).delete()[0]
