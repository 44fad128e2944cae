"""Reads about text messages: the provider's settings in use, conversations and threads, who sees what."""

from __future__ import annotations

import hmac
import ssl
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery

from sms.models import Message, ProviderSettings
from sms.provider import Jasmin, ProviderConfig

SEE_ALL = "sms.view_message"  # supervisors: every conversation


def provider_settings() -> tuple[ProviderConfig | None, str]:
    """The settings in use and where they come from: "database" (saved at run time), "environment" or "none"."""
    row = ProviderSettings.objects.filter(pk=1).first()
    if row is not None:
        return row.config(), "database"
    env = settings.MAYDAY_SMS
    if env["base_url"]:
        return ProviderConfig(**env), "environment"
    return None, "none"


def provider_config() -> ProviderConfig | None:
    return provider_settings()[0]


def webhook_token() -> str:
    row = ProviderSettings.objects.filter(pk=1).only("webhook_token").first()
    return (row.webhook_token if row is not None else "") or settings.MAYDAY_SMS_WEBHOOK_TOKEN


def token_matches(given: str) -> bool:
    """Compared in constant time; with no token configured nothing matches."""
    expected = webhook_token()
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def dlr_url(config: ProviderConfig) -> str:
    """The delivery report URL handed to the provider, carrying our token (added when the setting lacks it)."""
    if not config.dlr_url:
        return ""
    parts = urlsplit(config.dlr_url)
    query = dict(parse_qsl(parts.query))
    token = webhook_token()
    if token and "token" not in query:
        query["token"] = token
    return urlunsplit(parts._replace(query=urlencode(query)))


def jasmin_client(config: ProviderConfig) -> Jasmin:
    """A client for the gateway, trusting MAYDAY_SMS_CA_FILE when one is set (a private CA)."""
    verify: bool | ssl.SSLContext = True
    if settings.MAYDAY_SMS_CA_FILE:
        verify = ssl.create_default_context(cafile=settings.MAYDAY_SMS_CA_FILE)
    return Jasmin(config, verify=verify)


def sms_access(user) -> bool | None:
    """True: every conversation (supervisors); False: those the agent took part in; None: no SMS at all."""
    if user.has_perm(SEE_ALL):
        return True
    if hasattr(user, "agent"):
        return False
    return None


def messages_visible_to(*, user) -> QuerySet[Message]:
    """Supervisors see every message; an agent, the threads (customers) they took part in."""
    messages = Message.objects.all()
    if user.has_perm(SEE_ALL):
        return messages
    if not user.is_authenticated:
        return messages.none()
    return messages.filter(customer__in=Message.objects.filter(agent__user=user).values("customer"))


def conversations(*, user) -> QuerySet[Message]:
    """The latest message of each conversation the user sees, newest first: one query (a correlated subquery
    on the thread index)."""
    visible = messages_visible_to(user=user)
    latest = Message.objects.filter(customer=OuterRef("customer")).order_by("-created_at", "-pk").values("pk")[:1]
    return visible.filter(pk=Subquery(latest)).select_related("agent").order_by("-created_at", "-pk")


def thread(*, user, customer: str) -> QuerySet[Message]:
    messages = messages_visible_to(user=user).filter(Q(customer=customer))
    return messages.select_related("agent").order_by("created_at", "pk")


def message_document(message: Message) -> dict:
    """A message as the API and the pages show it."""
    return {
        "id": str(message.pk),
        "direction": message.direction,
        "customer": message.customer,
        "our_number": message.our_number,
        "content": message.content,
        "encoding": message.encoding,
        "segments": message.segments,
        "status": message.status,
        "status_label": message.get_status_display(),
        "error": message.error,
        "agent": message.agent.extension if message.agent_id else None,
        "created_at": message.created_at.isoformat(),
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
        "delivered_at": message.delivered_at.isoformat() if message.delivered_at else None,
        "failed_at": message.failed_at.isoformat() if message.failed_at else None,
    }


def message_documents(*, ids: list[str]) -> list[dict]:
    """Documents of these messages, each with `viewers`: the user ids of the agents in its thread (supervisors
    see every thread), for the live pages to pass each message only to whom may see it."""
    messages = list(Message.objects.filter(pk__in=ids).select_related("agent"))
    customers = {m.customer for m in messages}
    viewers: dict[str, set[int]] = {}
    for customer, user_id in (
        Message.objects.filter(customer__in=customers, agent__isnull=False)
        .values_list("customer", "agent__user_id")
        .order_by()
        .distinct()
    ):
        viewers.setdefault(customer, set()).add(user_id)
    return [{**message_document(m), "viewers": sorted(viewers.get(m.customer, ()))} for m in messages]
