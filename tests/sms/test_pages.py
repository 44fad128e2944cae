"""The SMS pages: agents see the conversations they took part in, supervisors every one, others nothing; a
conversation shows each message with its time, side and delivery tick; the send box counts segments on the
server too, and a form posted twice sends once."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from sms.models import Direction, Message, ProviderSettings, Status
from sms.views import THREAD_SHOWN, count_words
from tests.factories import AgentFactory

ANNA, BEN = "+256700771301", "+256700771302"


def text(agent, customer: str, content: str, *, status=Status.DELIVERED, error: str = "", at=None) -> Message:
    message = Message.objects.create(
        direction=Direction.OUTBOUND if agent else Direction.INBOUND,
        customer=customer,
        content=content,
        status=status if agent else Status.RECEIVED,
        error=error,
        agent=agent,
    )
    if at is not None:
        Message.objects.filter(pk=message.pk).update(created_at=at)
        message.refresh_from_db()
    return message


@pytest.fixture
def other(agent):
    return AgentFactory(extension="1006", pbx=agent.pbx)


@pytest.fixture
def threads(agent, other):
    """Anna writes with agent 1005, Ben with agent 1006."""
    text(agent, ANNA, "Your order is ready.")
    text(None, ANNA, "Thanks, coming at five.")
    text(other, BEN, "Ben's parcel left today.")


def key_of(page) -> str:
    return re.search(r'name="key" value="([0-9a-f]{32})"', page.content.decode()).group(1)


@pytest.mark.parametrize("path", ["/sms/", f"/sms/{ANNA}/"])
def test_anonymous_users_are_sent_to_sign_in(client, db, path):
    response = client.get(path)
    assert response.status_code == 302 and response.url == f"/accounts/login/?next={quote(path)}"


@pytest.mark.parametrize("path", ["/sms/", f"/sms/{ANNA}/"])
def test_users_with_no_role_are_refused(client, outsider, path):
    client.force_login(outsider)
    for response in (client.get(path), client.post(path, {"content": "hi", "to": ANNA, "key": "k1"})):
        assert response.status_code == 403
        assert "for agents and supervisors" in response.content.decode()
    assert not Message.objects.exists()


def test_an_agent_sees_only_the_conversations_they_took_part_in(client, agent, threads):
    client.force_login(agent.user)
    inbox = client.get("/sms/").content.decode()
    assert f'href="/sms/{ANNA}/"' in inbox and "Thanks, coming at five." in inbox
    assert BEN not in inbox and "parcel" not in inbox

    theirs = client.get(f"/sms/{BEN}/")
    assert theirs.status_code == 200  # an empty conversation, the same as a number nobody wrote to
    assert "parcel" not in theirs.content.decode() and "No messages with this number yet" in theirs.content.decode()


def test_a_supervisor_sees_every_conversation_and_who_wrote(client, supervisor, threads):
    client.force_login(supervisor)
    inbox = client.get("/sms/").content.decode()
    assert inbox.index(BEN) < inbox.index(ANNA)  # newest first
    assert "Every conversation" in inbox
    page = client.get(f"/sms/{BEN}/").content.decode()
    assert "Ben&#x27;s parcel left today." in page and "· 1006" in page


def test_the_conversation_shows_time_side_and_delivery_ticks(client, agent):
    at = datetime(2026, 3, 3, 11, 5, tzinfo=UTC)  # 14:05 in Nairobi
    text(None, ANNA, "Is my order ready?", at=at)
    for n, (status, error) in enumerate(
        [
            (Status.QUEUED, ""),
            (Status.SENDING, ""),
            (Status.SENT, ""),
            (Status.DELIVERED, ""),
            (Status.UNDELIVERED, "Not delivered: EXPIRED"),
            (Status.FAILED, ""),
        ]
    ):
        text(agent, ANNA, f"reply {n}", status=status, error=error, at=at.replace(minute=6 + n))
    client.force_login(agent.user)
    html = client.get(f"/sms/{ANNA}/").content.decode()
    bubbles = re.findall(r'<li class="bubble (\w+)".*?</li>', html, re.DOTALL)
    assert bubbles == ["theirs", *["ours"] * 6]  # oldest first
    ticks = re.findall(r'<span class="tick tick-(\w+)" role="img" aria-label="([^"]+)"[^>]*>([^<]+)</span>', html)
    thread_ticks = ticks[-6:]
    assert [(status, mark) for status, _, mark in thread_ticks] == [
        ("queued", "◷"),
        ("sending", "◷"),
        ("sent", "✓"),
        ("delivered", "✓✓"),
        ("undelivered", "✗"),
        ("failed", "✗"),
    ]
    assert thread_ticks[3][1] == "Delivered"
    assert '<p class="sms-error">Not delivered: EXPIRED</p>' in html
    assert '<p class="sms-error">Failed</p>' in html  # no words from the provider: the status says it
    assert ">3 Mar, 14:05</time>" in html and "times in Africa/Nairobi" in html


def test_a_long_conversation_shows_its_latest_messages(client, agent):
    Message.objects.bulk_create(
        Message(direction=Direction.INBOUND, customer=ANNA, content=f"m{n}", status=Status.RECEIVED)
        for n in range(THREAD_SHOWN + 5)
    )
    text(agent, ANNA, "the latest")
    client.force_login(agent.user)
    html = client.get(f"/sms/{ANNA}/").content.decode()
    assert html.count('class="bubble ') == THREAD_SHOWN
    assert html.rindex('class="bubble ') > html.index("the latest") and f"The latest {THREAD_SHOWN} messages" in html


def test_a_number_in_another_form_leads_to_its_e164_page(client, agent):
    client.force_login(agent.user)
    response = client.get("/sms/0700771301/")
    assert response.status_code == 302 and response.url == f"/sms/{ANNA}/"
    assert client.get("/sms/not-a-number/").status_code == 404


def test_posting_the_form_sends_once_per_key(client, agent, jasmin, django_capture_on_commit_callbacks):
    config = jasmin.config()
    ProviderSettings(base_url=config.base_url, username=config.username, password=config.password).save()
    client.force_login(agent.user)
    page = client.get(f"/sms/{ANNA}/")
    form = {"content": "On my way\r\nsee you", "key": key_of(page)}
    for _ in range(2):  # a double click
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/sms/{ANNA}/", form)
        assert response.status_code == 302 and response.url == f"/sms/{ANNA}/"
    (message,) = Message.objects.all()
    assert (message.customer, message.agent, message.requested_by) == (ANNA, agent, agent.user)
    assert message.content == "On my way\nsee you"  # the line break as typed, not as the browser sent it
    assert message.status == Status.SENT
    assert [sent["to"] for sent in jasmin.sent] == [ANNA]
    assert key_of(client.get(f"/sms/{ANNA}/")) != form["key"]  # the next page load makes a new key


def test_a_key_used_for_another_message_is_refused(client, agent):
    client.force_login(agent.user)
    key = key_of(client.get(f"/sms/{ANNA}/"))
    client.post(f"/sms/{ANNA}/", {"content": "first", "key": key})
    response = client.post(f"/sms/{ANNA}/", {"content": "second", "key": key})
    assert response.status_code == 400
    assert "already used for another message" in response.content.decode()
    assert list(Message.objects.values_list("content", flat=True)) == ["first"]
    assert key_of(response) != key  # sent again from here, it goes


def test_a_new_message_starts_a_conversation(client, agent):
    client.force_login(agent.user)
    inbox = client.get("/sms/")
    response = client.post("/sms/", {"to": "(0700) 771-301", "content": "Hello Anna", "key": key_of(inbox)})
    assert response.status_code == 302 and response.url == f"/sms/{ANNA}/"
    assert Message.objects.get().customer == ANNA
    assert "Hello Anna" in client.get("/sms/").content.decode()


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"to": "12", "content": "hi"}, "is not a valid number"),
        ({"to": ANNA, "content": "  \r\n "}, "The message is empty."),
        ({"to": ANNA, "content": "a" * 1531}, "The message takes 11 SMS (GSM-7); at most 10 are sent."),
        ({"to": ANNA, "content": "hi", "key": "no spaces allowed"}, "This form is out of date"),
    ],
)
def test_bad_input_is_refused_with_the_reason_and_nothing_sent(client, agent, form, words):
    client.force_login(agent.user)
    response = client.post("/sms/", {"key": "k1", **form})
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not Message.objects.exists()


def test_the_segment_count_is_drawn_by_the_server_for_the_text_in_the_box(client, agent):
    client.force_login(agent.user)
    assert '<p id="count" class="muted" aria-live="polite">0 SMS, 160 characters left, GSM-7</p>' in (
        client.get(f"/sms/{ANNA}/").content.decode()
    )
    kept = client.post(f"/sms/{ANNA}/", {"content": "a" * 161, "key": "bad key"}).content.decode()
    assert ">2 SMS, 145 characters left, GSM-7</p>" in kept and "a" * 161 + "</textarea>" in kept


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("", "0 SMS, 160 characters left, GSM-7"),
        ("a" * 159, "1 SMS, 1 character left, GSM-7"),
        ("a" * 160, "1 SMS, 0 characters left, GSM-7"),
        ("a" * 161, "2 SMS, 145 characters left, GSM-7"),
        ("€" * 80, "1 SMS, 0 characters left, GSM-7"),
        ("a" * 152 + "€" + "a" * 152, "3 SMS, 152 characters left, GSM-7"),
        ("Habari 😀", "1 SMS, 61 characters left, UCS-2"),
        ("ç" * 71, "2 SMS, 63 characters left, UCS-2"),
    ],
)
def test_the_count_speaks_of_segments_characters_left_and_encoding(content, words):
    assert count_words(content) == words


def test_the_pages_carry_no_inline_script_and_link_from_the_navigation(client, agent, supervisor, threads):
    client.force_login(agent.user)
    html = client.get(f"/sms/{ANNA}/").content.decode()
    scripts = re.findall(r"<script([^>]*)>", html)
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs in scripts), scripts
    assert "style=" not in html and "<style" not in html
    assert '<a href="/sms/">SMS</a>' in client.get("/dashboard/").content.decode()
    client.force_login(supervisor)
    assert '<a href="/sms/">SMS</a>' in client.get("/team/").content.decode()


def test_the_inbox_reads_a_fixed_number_of_queries(client, agent, django_assert_max_num_queries):
    for n in range(40):
        text(agent, f"+2567007713{n:02d}", f"message {n}")
        text(None, f"+2567007713{n:02d}", f"reply {n}")
    client.force_login(agent.user)
    with django_assert_max_num_queries(7):
        html = client.get("/sms/").content.decode()
    assert html.count('class="convo"') == 40
    with django_assert_max_num_queries(7):
        assert client.get(f"/sms/{ANNA}/").status_code == 200
