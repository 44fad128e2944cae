"""The SMS pages: the conversations an agent took part in (supervisors: every one), and one conversation with a
send box. Sending is a plain form post answered with a redirect, so the pages work without scripts; scripts
count the segments as one types and keep both pages live from /ws/sms/."""

from __future__ import annotations

import re
import uuid

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from mayday.api import IDEMPOTENCY_KEY
from sms import segments, services
from sms.models import Direction, Message, Status
from sms.selectors import conversations, sms_access, thread
from telephony.phone import e164

SEND_ANY = "sms.add_message"  # supervisors who may send; every agent may
PER_PAGE = 50  # conversations on a page
THREAD_SHOWN = 200  # the latest messages of a conversation
# Delivery ticks, drawn the same by the page and its script.
TICKS = {
    Status.QUEUED: "◷",
    Status.SENDING: "◷",
    Status.SENT: "✓",
    Status.DELIVERED: "✓✓",
    Status.UNDELIVERED: "✗",
    Status.FAILED: "✗",
}
FAILED = (Status.UNDELIVERED, Status.FAILED)


def may_send(user) -> bool:
    return hasattr(user, "agent") or user.has_perm(SEND_ANY)


def count_words(text: str) -> str:
    """What the send box says under the text, e.g. "2 SMS, 12 characters left, GSM-7"."""
    count = segments.count(text)
    left = f"{count.remaining} character{'' if count.remaining == 1 else 's'} left"
    return f"{count.segments} SMS, {left}, {count.encoding}"


class SendForm(forms.Form):
    """A text to a customer; `to` only when starting a conversation. `key` is made when the page is drawn, so
    the same form sent twice (a double click, a resubmitted page) sends one message."""

    to = forms.CharField(label="Number", max_length=24)
    content = forms.CharField(label="Message", max_length=1600, strip=False, widget=forms.Textarea)
    key = forms.CharField(max_length=64)

    def __init__(self, *args, customer: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if customer is not None:
            del self.fields["to"]

    def clean_to(self) -> str:
        # People write numbers in groups: "0700 771 301", "(0700) 771-301".
        return e164(re.sub(r"[\s().-]", "", self.cleaned_data["to"]), "number")

    def clean_content(self) -> str:
        # Browsers send a typed line break as CR LF; the count the page showed was of LF, one septet.
        content = self.cleaned_data["content"].replace("\r\n", "\n")
        return services.content_check(content)

    def clean_key(self) -> str:
        if not IDEMPOTENCY_KEY.fullmatch(self.cleaned_data["key"]):
            raise ValidationError("This form is out of date: reload the page.")
        return self.cleaned_data["key"]


def _send(request: HttpRequest, form: SendForm, agent, customer: str | None = None) -> Message | None:
    """Send what the form holds, once per key; None, with the form's errors, when nothing was sent."""
    if not form.is_valid():
        return None
    to, content = customer or form.cleaned_data["to"], form.cleaned_data["content"]
    message, _ = services.message_send(
        user=request.user, agent=agent, to=to, content=content, idempotency_key=form.cleaned_data["key"]
    )
    if (message.customer, message.content) != (to, content):
        form.add_error(None, "This form was already used for another message: send it again from here.")
        return None
    return message


def _shown(messages, me: str | None) -> list[Message]:
    """Messages with what the templates draw beside them: the tick, whether it failed, who sent it."""
    messages = list(messages)
    for m in messages:
        m.outbound = m.direction == Direction.OUTBOUND
        m.tick = TICKS.get(m.status, "")
        m.failed = m.status in FAILED
        extension = m.agent.extension if m.agent_id else None
        m.who = "You" if extension is not None and extension == me else extension or "Sent"
    return messages


def _context(sees: bool, me: str | None, form: SendForm | None, customer: str | None = None) -> dict:
    """What both pages show: the send box with a fresh key and its count, and what their script needs."""
    text = (form["content"].value() or "") if form is not None else ""
    return {
        "sees_all": sees,
        "form": form,
        "key": uuid.uuid4().hex,
        "count": count_words(text.replace("\r\n", "\n")),
        "time_zone": settings.TIME_ZONE,
        "page_data": {
            "customer": customer,
            "me": me,
            "ticks": TICKS,
            "gsm_basic": "".join(sorted(segments.GSM_BASIC)),
            "gsm_extension": "".join(sorted(segments.GSM_EXTENSION)),
            "max_segments": services.MAX_SEGMENTS,
            "live_list": True,  # new conversations go on top of the list (its first page only)
        },
    }


def _form(request: HttpRequest, customer: str | None = None) -> SendForm | None:
    """The send box: bound to what was posted, or empty; None for users who may read but not send."""
    if not may_send(request.user):
        return None
    return SendForm(request.POST if request.method == "POST" else None, customer=customer)


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """The latest message of each conversation, newest first, and a form to start one."""
    sees = sms_access(request.user)
    form = _form(request)
    if sees is None or (request.method == "POST" and form is None):
        return render(request, "sms/no_access.html", status=403)
    agent = getattr(request.user, "agent", None)
    if request.method == "POST" and (sent := _send(request, form, agent)) is not None:
        return redirect("sms-conversation", phone=sent.customer)
    me = agent.extension if agent else None
    page = Paginator(conversations(user=request.user), PER_PAGE).get_page(request.GET.get("page"))
    context = _context(sees, me, form)
    context["page_data"]["live_list"] = page.number == 1
    context |= {"page": page, "conversations": _shown(page.object_list, me)}
    return render(request, "sms/inbox.html", context, status=400 if request.method == "POST" else 200)


@login_required
def conversation(request: HttpRequest, phone: str) -> HttpResponse:
    """One conversation, oldest first (its latest THREAD_SHOWN messages), beside the list, and the send box."""
    sees = sms_access(request.user)
    if sees is None or (request.method == "POST" and not may_send(request.user)):
        return render(request, "sms/no_access.html", status=403)
    try:
        customer = e164(phone, "phone number")
    except ValidationError as exc:
        raise Http404(exc.messages[0]) from exc
    if customer != phone:
        return redirect("sms-conversation", phone=customer)
    form = _form(request, customer)
    agent = getattr(request.user, "agent", None)
    if request.method == "POST" and _send(request, form, agent, customer) is not None:
        return redirect("sms-conversation", phone=customer)
    me = agent.extension if agent else None
    latest = list(thread(user=request.user, customer=customer).reverse()[: THREAD_SHOWN + 1])
    context = _context(sees, me, form, customer) | {
        "customer": customer,
        "messages": _shown(latest[:THREAD_SHOWN][::-1], me),
        "more": len(latest) > THREAD_SHOWN,
        "thread_shown": THREAD_SHOWN,
        "conversations": _shown(conversations(user=request.user)[:PER_PAGE], me),
    }
    return render(request, "sms/conversation.html", context, status=400 if request.method == "POST" else 200)
