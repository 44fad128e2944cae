"""The SMS admin: messages and delivery reports are read-only; the provider's settings are one row whose secrets
are never shown and kept when left empty; *Check balance* and *Send a test message* show the fake provider's own
answer or error."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from sms.models import DeliveryReport, Direction, Message, ProviderSettings, Status

CHANGELIST = "/admin/sms/providersettings/"
ANNA = "+256700771301"


def save_settings(jasmin, **overrides) -> ProviderSettings:
    config = jasmin.config()
    fields = {"base_url": config.base_url, "username": config.username, "password": config.password}
    row = ProviderSettings(**{**fields, **overrides})
    row.save()
    return row


def form(row: ProviderSettings, **changes) -> dict:
    """The change form as a browser sends it: the secrets empty, as they are drawn."""
    fields = ["base_url", "username", "default_sender", "dlr_url", "override_ip"]
    values = {name: getattr(row, name) or "" for name in fields}
    return {**values, "password": "", "auth_header": "", "webhook_token": "", **changes}


def action(client, name: str, **extra):
    return client.post(CHANGELIST, {"action": name, "_selected_action": ["1"], **extra})


def shown(response) -> str:
    """The result page's answer box."""
    return unescape(re.search(r"<pre[^>]*>(.*?)</pre>", response.content.decode(), re.DOTALL).group(1))


def test_the_index_has_an_sms_section(client, supervisor):
    client.force_login(supervisor)
    html = client.get("/admin/").content.decode()
    assert html.index("Calls") < html.index(">SMS<") < html.index("Logins and roles")
    assert "SMS messages" in html and "Delivery reports" in html and "SMS provider settings" in html


def test_messages_and_reports_are_read_only(client, supervisor, agent):
    message = Message.objects.create(
        direction=Direction.OUTBOUND, customer=ANNA, content="x" * 80, status=Status.SENT, agent=agent
    )
    DeliveryReport.objects.create(provider_id="mt-1", level=2, message_status="DELIVRD", fields={}, message=message)
    client.force_login(supervisor)
    listing = client.get("/admin/sms/message/", {"q": ANNA})
    assert listing.status_code == 200 and "x" * 59 + "…" in listing.content.decode()
    filtered = client.get("/admin/sms/message/", {"status__exact": "sent", "direction__exact": "outbound"})
    assert filtered.status_code == 200 and ANNA in filtered.content.decode()
    page = client.get(reverse("admin:sms_message_change", args=[message.pk])).content.decode()
    assert "DELIVRD" in page and 'name="_save"' not in page
    assert client.get("/admin/sms/message/add/").status_code == 403
    assert client.get("/admin/sms/deliveryreport/").status_code == 200
    assert client.get("/admin/sms/deliveryreport/add/").status_code == 403


def test_secrets_are_never_shown_and_empty_keeps_them(client, supervisor, jasmin):
    row = save_settings(jasmin, password="Pass-Word-66", webhook_token="Hook-Token-77")
    client.force_login(supervisor)
    url = reverse("admin:sms_providersettings_change", args=[1])
    for page in (client.get(url), client.get(CHANGELIST)):
        assert "Pass-Word-66" not in page.content.decode() and "Hook-Token-77" not in page.content.decode()
    response = client.post(url, form(row, default_sender="Hugamara"))
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.password, row.webhook_token, row.default_sender) == ("Pass-Word-66", "Hook-Token-77", "Hugamara")
    assert row.updated_by == supervisor


def test_a_new_header_replaces_the_user_and_password(client, supervisor, jasmin):
    row = save_settings(jasmin)
    client.force_login(supervisor)
    url = reverse("admin:sms_providersettings_change", args=[1])
    assert client.post(url, form(row, auth_header=jasmin.auth_header)).status_code == 302
    row.refresh_from_db()
    assert (row.username, row.password, row.auth_header) == ("", "", jasmin.auth_header)
    both = client.post(url, form(row, username="mayday", password="pw", auth_header="Basic eA=="))
    assert "not both" in both.content.decode()


def test_there_is_one_row_at_most(client, admin_user, jasmin):
    client.force_login(admin_user)
    assert client.get("/admin/sms/providersettings/add/").status_code == 200
    save_settings(jasmin)
    assert client.get("/admin/sms/providersettings/add/").status_code == 403


def test_a_lookup_on_a_secret_is_refused(client, supervisor, jasmin):
    save_settings(jasmin)
    client.force_login(supervisor)
    for lookup in ("password__startswith", "auth_header__regex", "webhook_token__startswith"):
        assert client.get(CHANGELIST, {lookup: "s"}).status_code == 400


def test_check_balance_shows_the_providers_answer(client, supervisor, jasmin):
    save_settings(jasmin)
    client.force_login(supervisor)
    response = action(client, "check_balance")
    assert response.status_code == 200
    assert shown(response) == "Balance: 10.23\nMessages left: unlimited\n"


def test_check_balance_shows_the_providers_refusal(client, supervisor, jasmin):
    save_settings(jasmin, password="wrong")
    client.force_login(supervisor)
    response = action(client, "check_balance")
    assert "failed" in response.content.decode()
    assert shown(response) == "Authentication failure for username:mayday\n"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the send runs once the row is committed
def test_a_test_message_is_sent_once_and_the_page_says_what_the_provider_said(client, supervisor, jasmin):
    save_settings(jasmin)
    client.force_login(supervisor)
    asked = action(client, "send_test_message")
    html = asked.content.decode()
    assert 'name="to"' in html and 'name="content"' in html
    key = re.search(r'name="key" value="([0-9a-f]{32})"', html).group(1)
    values = {"send": "yes", "to": "0700771301", "content": "Test from Mayday", "key": key}
    for _ in range(2):  # sent twice, sent once
        response = action(client, "send_test_message", **values)
    (message,) = Message.objects.all()
    assert (message.customer, message.status, message.agent, message.requested_by) == (
        ANNA,
        Status.SENT,
        None,
        supervisor,
    )
    assert [sent["to"] for sent in jasmin.sent] == [ANNA]
    assert shown(response).startswith(f"To {ANNA}: Accepted by the provider\nProvider's id: {message.provider_id}")
    assert reverse("admin:sms_message_change", args=[message.pk]) in response.content.decode()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_refused_test_message_shows_the_providers_words(client, supervisor, jasmin):
    save_settings(jasmin)
    jasmin.reply_send(400, {"message": 'Error "Cannot route message'})
    client.force_login(supervisor)
    values = {"send": "yes", "to": ANNA, "content": "Test", "key": "k-1"}
    response = action(client, "send_test_message", **values)
    assert shown(response) == f"To {ANNA}: Failed\nCannot route message (HTTP 400)\n"
    assert Message.objects.get().status == Status.FAILED


def test_a_bad_number_asks_again(client, supervisor, jasmin):
    save_settings(jasmin)
    client.force_login(supervisor)
    response = action(client, "send_test_message", send="yes", to="12", content="Test", key="k-1")
    assert "is not a valid number" in response.content.decode()
    assert not Message.objects.exists() and jasmin.sent == []
