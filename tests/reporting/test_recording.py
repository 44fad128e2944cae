"""Recording queue calls and CDRs from the recorded transcripts and the queue_log of the same PBX.

The AMI recordings and `queue_log.sample` come from one Asterisk: calls 1795238602.0 (ringall, two phones),
.16 (abandoned after 3 s), .18 (a ring-no-answer, then abandoned after 15 s) and .24 (answered) are in both.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from django.core.management import call_command

from reporting.models import AttemptResult, CallAttempt, Cdr, Outcome, QueueCall
from reporting.services import calls_record
from telephony.pbx import events as ev
from tests.factories import AgentFactory, PbxServerFactory, QueueFactory
from tests.telephony.test_normalize import ami_events, esl_events

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
QUEUE_LOG = FIXTURES / "asterisk" / "queue_log.sample"
TRANSCRIPTS = [
    "answered-call-ringall-two-members.ami",
    "abandoned-call.ami",
    "ring-no-answer.ami",
    "answered-call.ami",
]
BOTH = {"1795238602.0", "1795238644.16", "1795238651.18", "1795238734.24"}
COMPARED = (
    "queue_name",
    "call_id",
    "caller_number",
    "outcome",
    "wait_seconds",
    "talk_seconds",
    "agent_extension",
    "hangup_by",
    "ring_no_answers",
)


def stamped(events):
    """The transcripts carry no clock: stamp each event at the second its call began (from its uniqueid), a
    hundredth of a second apart, as a listener receiving them then would."""
    out = []
    for i, e in enumerate(events):
        if hasattr(e, "at"):
            e = replace(e, at=int(e.call_id.partition(".")[0]) + i / 100)
        out.append(e)
    return out


@pytest.fixture
def asterisk(db):
    pbx = PbxServerFactory(name="ast")
    queue = QueueFactory(name="support", pbx=pbx, service_level_seconds=10)
    for extension, name in (("1005", "John Doe"), ("1006", "Jane Roe"), ("1007", "Slow Sam")):
        AgentFactory(pbx=pbx, extension=extension, display_name=name)
    return pbx, queue


def replay(pbx, names=TRANSCRIPTS):
    for name in names:
        calls_record(pbx_id=pbx.pk, events=stamped(ami_events(name)))


def rows(**filters):
    return {c.call_id: tuple(getattr(c, f) for f in COMPARED) for c in QueueCall.objects.filter(**filters)}


def test_transcripts_give_one_call_each_with_the_pbx_words(asterisk):
    pbx, queue = asterisk
    replay(pbx)
    calls = {c.call_id: c for c in QueueCall.objects.all()}
    assert set(calls) == BOTH  # the ringall's second phone and the Local legs are no calls
    ringall, abandoned, no_answer, answered = (calls[i] for i in sorted(BOTH))
    assert (ringall.outcome, ringall.agent_extension, ringall.wait_seconds, ringall.talk_seconds) == (
        Outcome.ANSWERED,
        "1005",
        1,
        3,
    )
    assert ringall.hangup_by == "agent" and ringall.queue == queue and ringall.caller_number == "0700771301"
    assert sorted(ringall.attempts.values_list("agent_extension", "result")) == [
        ("1005", AttemptResult.ANSWERED),
        ("1006", AttemptResult.RINGING),  # rang, the other phone won
    ]
    assert (abandoned.outcome, abandoned.wait_seconds, abandoned.agent_extension) == (Outcome.ABANDONED, 3, "")
    assert (no_answer.outcome, no_answer.wait_seconds, no_answer.ring_no_answers) == (Outcome.ABANDONED, 15, 1)
    assert list(no_answer.attempts.values_list("agent_extension", "result", "ring_ms")) == [
        ("1007", AttemptResult.NO_ANSWER, 10000),
        ("1007", AttemptResult.RINGING, None),  # the second ring, cut short when the caller gave up
    ]
    assert (answered.outcome, answered.talk_seconds, answered.agent.display_name) == (Outcome.ANSWERED, 4, "John Doe")
    assert answered.answered_at and answered.ended_at and answered.ended_at > answered.answered_at


def test_replaying_the_same_events_changes_nothing(asterisk):
    pbx, _ = asterisk
    replay(pbx)
    before = (rows(), CallAttempt.objects.count(), Cdr.objects.count())
    replay(pbx)
    replay(pbx, reversed(TRANSCRIPTS))
    assert (rows(), CallAttempt.objects.count(), Cdr.objects.count()) == before


def test_queue_log_gives_the_same_rows_as_the_events(asterisk):
    pbx, _ = asterisk
    replay(pbx)
    from_events = rows()
    QueueCall.objects.all().delete()
    call_command("import_queue_log", str(QUEUE_LOG), pbx="ast")
    from_log = rows()
    assert len(from_log) == 6  # two more calls than were recorded over AMI
    assert {k: v for k, v in from_log.items() if k in BOTH} == from_events


def test_import_after_events_fills_gaps_without_doubling(asterisk):
    pbx, _ = asterisk
    replay(pbx, TRANSCRIPTS[:2])  # the listener missed the last two calls
    call_command("import_queue_log", str(QUEUE_LOG), pbx="ast")
    call_command("import_queue_log", str(QUEUE_LOG), pbx="ast")
    assert QueueCall.objects.count() == 6
    no_answer = QueueCall.objects.get(call_id="1795238651.18")
    assert (no_answer.outcome, no_answer.ring_no_answers, no_answer.attempts.count()) == (Outcome.ABANDONED, 1, 1)
    replay(pbx, TRANSCRIPTS[2:])  # and the events arrive after all
    assert QueueCall.objects.count() == 6
    assert QueueCall.objects.get(call_id="1795238651.18").attempts.count() == 2  # the cut-short ring joins


def test_a_timeout_in_the_queue_log_corrects_the_ami_abandon(asterisk, tmp_path):
    """AMI says QueueCallerAbandon for a timeout too; the queue_log's EXITWITHTIMEOUT is the PBX's real word,
    whether it is read before or after the events."""
    pbx, _ = asterisk
    log = tmp_path / "queue_log"
    log.write_text(
        "1795238644|1795238644.16|support|NONE|ENTERQUEUE||0700000002|1\n"
        "1795238647|1795238644.16|support|NONE|EXITWITHTIMEOUT|1|1|3\n"
    )
    replay(pbx, ["abandoned-call.ami"])
    call_command("import_queue_log", str(log), pbx="ast")
    call = QueueCall.objects.get()
    assert (call.outcome, call.exit_reason, call.wait_seconds) == (Outcome.TIMED_OUT, "EXITWITHTIMEOUT", 3)
    replay(pbx, ["abandoned-call.ami"])
    assert QueueCall.objects.get().outcome == Outcome.TIMED_OUT


def test_exits_from_the_queue_log(asterisk, tmp_path):
    log = tmp_path / "queue_log"
    log.write_text(
        "1795300000|a.1|support|NONE|ENTERQUEUE||0711|1\n"
        "1795300005|a.1|support|NONE|EXITWITHKEY|5|1|1|5\n"
        "1795300010|a.2|support|NONE|ENTERQUEUE||0712|1\n"
        "1795300011|a.2|support|NONE|EXITEMPTY|1|1|1\n"
        "garbage line\n"
        "1795300012|a.3|support|Jane Roe|CONNECT|2|a.4|1\n"
        "1795300020|a.3|support|Jane Roe|TRANSFER|2000|default|2|8|1\n"
    )
    out = call_command("import_queue_log", str(log), pbx="ast")
    assert out is None
    got = {c.call_id: (c.outcome, c.exit_reason, c.wait_seconds) for c in QueueCall.objects.all()}
    assert got == {
        "a.1": (Outcome.EXITED, "EXITWITHKEY", 5),
        "a.2": (Outcome.EXITED, "EXITEMPTY", 1),
        "a.3": (Outcome.ANSWERED, "", 2),
    }
    transferred = QueueCall.objects.get(call_id="a.3")
    assert (transferred.hangup_by, transferred.talk_seconds, transferred.agent_extension) == ("transfer", 8, "1006")


def test_import_refuses_an_unknown_or_freeswitch_pbx(asterisk):
    from django.core.management.base import CommandError

    PbxServerFactory(name="fs", kind="freeswitch", port=8021)
    with pytest.raises(CommandError, match="No PBX server named"):
        call_command("import_queue_log", str(QUEUE_LOG), pbx="nope")
    with pytest.raises(CommandError, match="Asterisk"):
        call_command("import_queue_log", str(QUEUE_LOG), pbx="fs")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_queue_log", "/nonexistent/queue_log", pbx="ast")
    assert not QueueCall.objects.exists()


def test_cdrs_keep_the_call_and_mark_the_legs(asterisk):
    pbx, _ = asterisk
    replay(pbx)
    calls = Cdr.objects.filter(internal=False)
    assert sorted(calls.values_list("call_id", "disposition", "billable_seconds")) == [
        ("1795238602.0", "ANSWERED", 4),  # the ringall's NO ANSWER leg to the other phone is a leg
        ("1795238644.16", "ANSWERED", 3),
        ("1795238651.18", "NO ANSWER", 3),  # two rings, no answer: the last ring stands for the call
        ("1795238734.24", "ANSWERED", 4),
    ]
    answered = calls.get(call_id="1795238734.24")
    assert answered.start.isoformat() == "2026-11-21T05:25:34+00:00"
    assert (answered.end - answered.start).total_seconds() == 5
    assert Cdr.objects.filter(internal=True).count() == Cdr.objects.count() - 4


def test_freeswitch_call_and_its_channel_records(db):
    pbx = PbxServerFactory(name="fs", kind="freeswitch", port=8021)
    AgentFactory(pbx=pbx, extension="1039")
    events = esl_events("events-call.esl") + esl_events("events-call-channels.esl")
    calls_record(pbx_id=pbx.pk, events=events)
    call = QueueCall.objects.get()
    assert (call.queue_name, call.outcome, call.agent_extension, call.wait_seconds, call.talk_seconds) == (
        "support",
        Outcome.ANSWERED,
        "1039",
        1,
        4,
    )
    assert call.entered_at.timestamp() == pytest.approx(1795239290.22, abs=0.1)
    assert call.ended_at.timestamp() == pytest.approx(1795239295.72, abs=0.01)  # bridge-agent-end
    member = Cdr.objects.get(internal=False)
    assert (member.channel, member.disposition, member.duration, member.billable_seconds) == (
        "loopback/9999-a",
        "ANSWERED",
        5,
        5,
    )
    assert member.hangup_cause == "NORMAL_CLEARING"


def test_freeswitch_cancel_reasons(db):
    from telephony.pbx.freeswitch import esl_event

    pbx = PbxServerFactory(name="fs", kind="freeswitch", port=8021)
    events = []
    for n, reason in enumerate(["BREAK_OUT", "TIMEOUT", "NO_AGENT_TIMEOUT", "EXIT_WITH_KEY", "NONE"]):
        events += [
            ev.MemberQueueStart("support", f"s{n}", "0711", "Caller", at=1795300000),
            esl_event(
                "Event-Subclass: callcenter%3A%3Ainfo\nEvent-Date-Timestamp: 1795300009000000\n"
                "CC-Queue: support%40default\nCC-Action: member-queue-end\nCC-Cause: Cancel\n"
                f"CC-Cancel-Reason: {reason}\nCC-Member-Joined-Time: 1795300000\n"
                f"CC-Member-Leaving-Time: {1795300000 + n + 4}\nCC-Member-Session-UUID: s{n}\n\n"
            ),
        ]
    calls_record(pbx_id=pbx.pk, events=events)
    got = {c.call_id: (c.outcome, c.wait_seconds, c.ended_at.timestamp()) for c in QueueCall.objects.all()}
    assert got == {
        "s0": (Outcome.ABANDONED, 4, 1795300004),
        "s1": (Outcome.TIMED_OUT, 5, 1795300005),
        "s2": (Outcome.TIMED_OUT, 6, 1795300006),
        "s3": (Outcome.EXITED, 7, 1795300007),
        "s4": (Outcome.ABANDONED, 8, 1795300008),
    }


def test_a_call_connected_after_the_leave_is_on_the_phone_until_it_completes(asterisk):
    """Asterisk says QueueCallerLeave just before AgentConnect: between the two the call reads as exited, after
    the connect it is answered and still going."""
    pbx, _ = asterisk
    events = stamped(ami_events("answered-call.ami"))
    connect = next(i for i, e in enumerate(events) if isinstance(e, ev.AgentConnected))
    calls_record(pbx_id=pbx.pk, events=events[:connect])
    assert QueueCall.objects.get().outcome == Outcome.EXITED
    calls_record(pbx_id=pbx.pk, events=[events[connect]])
    call = QueueCall.objects.get()
    assert (call.outcome, call.ended_at, call.talk_seconds, call.agent_extension) == (
        Outcome.ANSWERED,
        None,
        None,
        "1005",
    )


def test_cdr_times_of_a_pbx_in_another_zone_and_a_record_that_starts_late():
    """cdr_manager writes local wall time: a PBX at UTC+3 writes 08:25:34 for a channel created 05:25:34 UTC; a
    caller's record forked at a ring eight minutes into the wait starts eight minutes after its channel."""
    from telephony.pbx.asterisk import ami_event

    def cdr(start, end, uniqueid="1795238734.24"):
        frame = {"Event": "Cdr", "UniqueID": uniqueid, "Disposition": "NO ANSWER", "Duration": "3"}
        return ami_event(frame | {"StartTime": start, "AnswerTime": "", "EndTime": end})

    shifted = cdr("2026-11-21 08:25:34", "2026-11-21 08:25:37")
    assert (shifted.start, shifted.answer, shifted.end) == (1795238734, 0.0, 1795238737)
    late = cdr("2026-11-21 08:33:34", "2026-11-21 08:33:37")
    assert late.start == 1795238734 + 8 * 60


def test_freeswitch_call_through_the_dialplan_keeps_the_real_caller(db):
    pbx = PbxServerFactory(name="fs", kind="freeswitch", port=8021)
    calls_record(pbx_id=pbx.pk, events=esl_events("events-call-dialplan.esl"))
    calls_record(pbx_id=pbx.pk, events=esl_events("events-call-dialplan.esl"))  # told twice: still one call
    call = QueueCall.objects.get()
    assert (call.caller_number, call.caller_name, call.outcome, call.agent_extension) == (
        "5551234",
        "Test-Caller",
        Outcome.ANSWERED,
        "1039",
    )
    assert list(call.attempts.values_list("agent_extension", "result")) == [("1039", AttemptResult.ANSWERED)]
