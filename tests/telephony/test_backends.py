"""Both backends drive the simulator over real TCP; bad input never reaches the socket."""

from __future__ import annotations

import pytest

from agents.models import Availability
from telephony.pbx.base import PbxError, Seat, backend_for
from tests.waiting import wait_for


def sim_member(sim, queue: str, interface: str):
    return sim.sim.ami.queues[queue].members.get(interface)


def test_asterisk_adds_pauses_snapshots_and_removes(sim, ast_pbx):
    with backend_for(ast_pbx) as pbx:
        pbx.member_add(queue="support", extension="2001", name="Jane Roe", penalty=2, paused=False, reason="")
        pbx.member_add(queue="sales", extension="2001", name="Jane Roe", penalty=0, paused=False, reason="")
        pbx.member_add(queue="support", extension="2001", name="Jane Roe", penalty=2, paused=False, reason="")  # again
        pbx.member_pause(extension="2001", paused=True, reason="Lunch")  # every queue
        pbx.member_pause(extension="2001", paused=False, queue="sales")
        snap = pbx.snapshot()
        pbx.member_remove(queue="sales", extension="2001")
        pbx.member_remove(queue="sales", extension="2001")  # already gone: fine
        pbx.ping()
    member = sim_member(sim, "support", "PJSIP/2001")
    assert (member.name, member.penalty, member.paused, member.reason) == ("Jane Roe", 2, True, "Lunch")
    assert sim_member(sim, "sales", "PJSIP/2001") is None
    states = {(m.queue, m.extension): (m.paused, m.reason, m.penalty) for m in snap.members}
    assert states == {("support", "2001"): (True, "Lunch", 2), ("sales", "2001"): (False, "", 0)}
    assert snap.has_sip and "2001" in snap.endpoints and snap.queues == ["support", "sales"]


def test_asterisk_without_pjsip_means_no_sip_data_not_an_error(sim, ast_pbx):
    sim.sim.ami.pjsip = False
    with backend_for(ast_pbx) as pbx:
        snap = pbx.snapshot()
    assert snap.has_sip is False and snap.endpoints == [] and snap.queues == ["support", "sales"]


def test_asterisk_errors_carry_the_pbx_text(sim, ast_pbx):
    with backend_for(ast_pbx) as pbx, pytest.raises(PbxError, match="No such queue") as exc:
        pbx.member_add(queue="nosuchqueue", extension="2001", name="", penalty=0, paused=False, reason="")
    assert exc.value.retryable is False


@pytest.mark.parametrize(
    "availability,reason,expected",
    [(Availability.AVAILABLE, "", (False, "")), (Availability.ON_BREAK, "Lunch", (True, "Lunch"))],
)
def test_asterisk_availability_covers_every_queue(sim, ast_pbx, availability, reason, expected):
    seats = [Seat("support", 0), Seat("sales", 1)]
    with backend_for(ast_pbx) as pbx:
        pbx.set_availability(extension="2002", name="A", availability=availability, reason=reason, queues=seats)
        snap = pbx.snapshot()
        observed = pbx.observed_availability(snap, "2002", ["support", "sales"])
    for queue in ("support", "sales"):
        member = sim_member(sim, queue, "PJSIP/2002")
        assert (member.paused, member.reason) == expected
    assert (observed.availability, observed.reason) == (availability, reason)
    with backend_for(ast_pbx) as pbx:
        pbx.set_availability(extension="2002", name="A", availability=Availability.LOGGED_OUT, reason="", queues=seats)
    assert sim_member(sim, "support", "PJSIP/2002") is None and sim_member(sim, "sales", "PJSIP/2002") is None


def test_freeswitch_sets_status_tiers_and_snapshot(sim, fs_pbx):
    esl = sim.sim.esl
    with backend_for(fs_pbx) as pbx:
        pbx.member_add(queue="support", extension="2001", name="", penalty=1, paused=False, reason="")
        pbx.member_add(queue="support", extension="2001", name="", penalty=1, paused=False, reason="")  # again
        pbx.agent_set_status(extension="2001", status="on break")  # any case in, canonical out
        pbx.agent_set_state(extension="2001", state="Idle")
        snap = pbx.snapshot()
    assert esl.agents["2001@default"].status == "On Break"
    assert esl.agents["2001@default"].state == "Idle"
    assert esl.tiers[("support@default", "2001@default")] == (2, 1)
    assert "api callcenter_config agent set status 2001@default 'On Break'" in esl.commands
    assert snap.agents["2001"] == ("On Break", "Idle")
    assert [(m.queue, m.extension, m.paused) for m in snap.members] == [("support", "2001", True)]
    assert set(snap.queues) == {"support", "sales"}
    observed = pbx.observed_availability(snap, "2001", ["support"])
    assert observed.availability == Availability.ON_BREAK and observed.reason is None


def test_freeswitch_availability_maps_to_callcenter_statuses(sim, fs_pbx):
    with backend_for(fs_pbx) as pbx:
        for availability, status in [(Availability.AVAILABLE, "Available"), (Availability.LOGGED_OUT, "Logged Out")]:
            pbx.set_availability(
                extension="2003", name="", availability=availability, reason="", queues=[Seat("sales", 0)]
            )
            assert sim.sim.esl.agents["2003@default"].status == status
    assert ("sales@default", "2003@default") in sim.sim.esl.tiers


def test_freeswitch_errors_carry_the_pbx_text(sim, fs_pbx):
    with backend_for(fs_pbx) as pbx:
        with pytest.raises(PbxError, match="Agent not found") as exc:
            pbx.agent_set_status(extension="9999", status="Available")
        assert exc.value.retryable is False
        with pytest.raises(PbxError, match="not a FreeSWITCH agent status"):
            pbx.agent_set_status(extension="2001", status="Bogus")


HOSTILE = ["20\r\n01", "2001\n", "20 01", "2001@x", "2001;x", "20|01", "9" * 65]


@pytest.mark.parametrize("bad", HOSTILE)
def test_asterisk_rejects_bad_values_before_writing(sim, ast_pbx, bad):
    with backend_for(ast_pbx) as pbx:
        sent = len(sim.sim.ami.actions)
        for call in [
            lambda: pbx.member_pause(extension=bad, paused=True),
            lambda: pbx.member_pause(extension="2001", paused=True, queue=bad),
            lambda: pbx.member_add(queue="support", extension=bad, name="", penalty=0, paused=False, reason=""),
            lambda: pbx.member_remove(queue=bad, extension="2001"),
        ]:
            with pytest.raises(PbxError) as exc:
                call()
            assert exc.value.retryable is False
        pbx.ping()
    assert len(sim.sim.ami.actions) == sent + 1  # only the ping got through


@pytest.mark.parametrize("reason", ["Lunch\r\nAction: Logoff", "Lunch\n", "Lunch ", "a@b", "a;b", "a|b", "x" * 65])
def test_asterisk_rejects_a_bad_pause_reason_before_writing(sim, ast_pbx, reason):
    with backend_for(ast_pbx) as pbx:
        sent = len(sim.sim.ami.actions)
        with pytest.raises(PbxError, match="not a valid reason"):
            pbx.member_pause(extension="2001", paused=True, reason=reason)
    assert len(sim.sim.ami.actions) == sent


@pytest.mark.parametrize("bad", HOSTILE)
def test_freeswitch_rejects_bad_values_before_writing(sim, fs_pbx, bad):
    with backend_for(fs_pbx) as pbx:
        sent = len(sim.sim.esl.commands)
        for call in [
            lambda: pbx.agent_set_status(extension=bad, status="Available"),
            lambda: pbx.member_add(queue=bad, extension="2001", name="", penalty=0, paused=False, reason=""),
            lambda: pbx.member_remove(queue="support", extension=bad),
        ]:
            with pytest.raises(PbxError):
                call()
        pbx.ping()
    assert len(sim.sim.esl.commands) == sent + 1


@pytest.mark.parametrize("domain", ["default\r\n", "de fault", "a@b", "a|b", "a;b", "x" * 254])
def test_freeswitch_rejects_a_bad_domain(sim, fs_pbx, domain):
    fs_pbx.domain = domain
    with pytest.raises(PbxError, match="not a valid domain"):
        with backend_for(fs_pbx):
            pass
    assert sim.sim.esl.commands == []


def test_wrong_credentials_are_permanent_errors_with_the_pbx_words(sim, ast_pbx, fs_pbx):
    ast_pbx.secret, fs_pbx.secret = "wrong", "wrong"
    with pytest.raises(PbxError, match="Authentication failed") as exc:
        with backend_for(ast_pbx):
            pass
    assert exc.value.retryable is False
    with pytest.raises(PbxError, match="-ERR invalid") as exc:
        with backend_for(fs_pbx):
            pass
    assert exc.value.retryable is False


def test_a_pbx_that_is_down_is_a_retryable_error(ast_pbx, fs_pbx, sim):
    sim.run(sim.sim.stop)
    for pbx in (ast_pbx, fs_pbx):
        with pytest.raises(PbxError, match="cannot reach") as exc:
            with backend_for(pbx):
                pass
        assert exc.value.retryable is True


def test_a_hung_pbx_times_out_instead_of_hanging(sim, ast_pbx, fs_pbx, monkeypatch):
    from telephony.pbx import asterisk, freeswitch

    monkeypatch.setattr(asterisk, "COMMAND_TIMEOUT", 0.5)
    monkeypatch.setattr(freeswitch, "COMMAND_TIMEOUT", 0.5)
    with backend_for(ast_pbx) as pbx:
        sim.sim.ami.frozen = True
        with pytest.raises(PbxError, match="no answer") as exc:
            pbx.ping()
        assert exc.value.retryable
    with backend_for(fs_pbx) as pbx:
        sim.sim.esl.frozen = True
        with pytest.raises(PbxError, match="no answer") as exc:
            pbx.ping()
        assert exc.value.retryable


def _open_sockets() -> int:
    import os

    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except FileNotFoundError:  # closed since the listing
            pass
    return count


def test_freeswitch_command_connections_are_closed_after_use(sim, fs_pbx):
    with backend_for(fs_pbx) as pbx:
        pbx.ping()  # the first connection may load modules that keep sockets of their own
    wait_for(lambda: not sim.sim.esl.sessions, 3)
    before = _open_sockets()
    for _ in range(40):
        with backend_for(fs_pbx) as pbx:
            pbx.ping()
    wait_for(lambda: not sim.sim.esl.sessions, 3, "every ESL connection to close")
    assert _open_sockets() <= before


@pytest.mark.parametrize(
    ("field", "value"), [("username", "mayday\r\nAction: Originate"), ("secret", "mayday\r\nAction: Originate")]
)
def test_ami_login_values_are_checked_before_any_byte(sim, ast_pbx, field, value):
    setattr(ast_pbx, field, value)
    ast_pbx.save()  # saved without validation, as loaddata or a script would
    with pytest.raises(PbxError) as exc:
        with backend_for(ast_pbx):
            pass
    assert exc.value.retryable is False
    assert sim.sim.ami.actions == [] and not sim.sim.ami.sessions
