"""The listener follows the PBX list while it runs: PBXs added, disabled, deleted, re-enabled or changed are
picked up within seconds, without restarting the process (issue 10, item 6)."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.management import call_command
from django.db import OperationalError, transaction

from agents.models import Availability
from telephony.models import ConnectionState, PbxServer, QueueMembership
from telephony.pbx import listener
from telephony.pbx.base import backend_for
from telephony.simulator.runner import SimulatorThread
from tests.factories import AgentFactory, MembershipFactory, PbxServerFactory, QueueFactory
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
def _quick(monkeypatch):
    """Read the PBX list five times a second and back off briefly, so each test takes a second or two."""
    monkeypatch.setattr(listener, "PBX_LIST_SECONDS", 0.2)
    monkeypatch.setattr(listener, "backoff", lambda attempt: 0.1)


def fields_for(kind: str, sim: SimulatorThread) -> dict:
    """PbxServer fields pointing at the simulator's AMI or ESL side."""
    if kind == "asterisk":
        return {"kind": "asterisk", "port": sim.sim.ami_port, "username": "mayday", "secret": "mayday", "domain": ""}
    return {"kind": "freeswitch", "port": sim.sim.esl_port, "username": "", "secret": "ClueCon", "domain": "default"}


def sessions(sim: SimulatorThread, kind: str) -> int:
    """Open connections at the simulator: the listener's stream is the only long-lived one."""
    return len(sim.sim.ami.sessions if kind == "asterisk" else sim.sim.esl.sessions)


def logins(sim: SimulatorThread, kind: str) -> list[str]:
    """The secrets offered at the simulator, in order."""
    if kind == "asterisk":
        return [a.get("secret", "") for a in sim.sim.ami.actions if a["action"].lower() == "login"]
    return [c.removeprefix("auth ") for c in sim.sim.esl.commands if c.startswith("auth ")]


def state(pbx: PbxServer) -> str:
    return PbxServer.objects.get(pk=pbx.pk).state


def with_agent(pbx: PbxServer):
    """Agent 2001, wanted available, in two queues of this PBX: reconciliation after connecting adds it there."""
    agent = AgentFactory(extension="2001", pbx=pbx, availability=Availability.AVAILABLE)
    for name in ("support", "sales"):
        strategy = "ringall" if pbx.kind == "asterisk" else "top-down"
        MembershipFactory(agent=agent, queue=QueueFactory(name=name, pbx=pbx, strategy=strategy))
    return agent


def members_on(pbx: PbxServer) -> set[tuple[str, str]]:
    """(queue, extension) of every member the PBX itself shows."""
    with backend_for(PbxServer.objects.get(pk=pbx.pk)) as backend:
        return {(m.queue, m.extension) for m in backend.snapshot().members}


def rows(agent) -> dict[str, tuple]:
    memberships = QueueMembership.objects.filter(agent=agent).select_related("queue")
    return {m.queue.name: (m.on_pbx, m.paused) for m in memberships}


APPLIED = {"support": (True, False), "sales": (True, False)}


@pytest.fixture(params=["asterisk", "freeswitch"])
def kind(request) -> str:
    return request.param


@pytest.fixture
def pbx(sim, kind) -> PbxServer:
    return PbxServerFactory(name=kind[:3], **fields_for(kind, sim))


def connected(sim, pbx) -> None:
    wait_for(lambda: state(pbx) == ConnectionState.CONNECTED and sessions(sim, pbx.kind) == 1, what="connected")


def let_go(sim, pbx) -> None:
    wait_for(lambda: sessions(sim, pbx.kind) == 0, what="connection closed at the PBX")
    wait_for(lambda: state(pbx) == ConnectionState.DISCONNECTED, what="state disconnected")


def test_a_pbx_added_while_running_is_connected_and_its_members_applied(loop_thread, sim, kind):
    running = loop_thread.start(listener.listen())
    time.sleep(0.5)  # the listener has read an empty list a few times and waits
    assert not running.done()
    with transaction.atomic():  # the PBX and its agent arrive together, as an admin save would
        pbx = PbxServerFactory(name="new", **fields_for(kind, sim))
        agent = with_agent(pbx)
    started = time.monotonic()
    connected(sim, pbx)
    wait_for(lambda: rows(agent) == APPLIED, what="members applied")
    assert time.monotonic() - started < 5


def test_a_disabled_pbx_is_let_go(loop_thread, sim, pbx):
    running = loop_thread.start(listener.listen())
    connected(sim, pbx)
    PbxServer.objects.filter(pk=pbx.pk).update(enabled=False)
    let_go(sim, pbx)
    tries = len(logins(sim, pbx.kind))
    time.sleep(0.6)
    assert (sessions(sim, pbx.kind), len(logins(sim, pbx.kind))) == (0, tries)  # and it stays away
    assert not running.done()


def test_a_pbx_disabled_while_backing_off_stops_trying(loop_thread, sim, pbx):
    PbxServer.objects.filter(pk=pbx.pk).update(secret="wrong")
    loop_thread.start(listener.listen())
    wait_for(lambda: len(logins(sim, pbx.kind)) >= 3, what="retries with backoff")
    PbxServer.objects.filter(pk=pbx.pk).update(enabled=False)
    wait_for(lambda: state(pbx) == ConnectionState.DISCONNECTED, what="state disconnected")
    tries = len(logins(sim, pbx.kind))
    time.sleep(0.6)  # at 0.1 s backoff a stream still running would have tried several times more
    assert len(logins(sim, pbx.kind)) == tries
    assert sessions(sim, pbx.kind) == 0


def test_a_deleted_pbx_is_let_go(loop_thread, sim, pbx):
    running = loop_thread.start(listener.listen())
    connected(sim, pbx)
    PbxServer.objects.filter(pk=pbx.pk).delete()
    wait_for(lambda: sessions(sim, pbx.kind) == 0, what="connection closed at the PBX")
    time.sleep(0.6)
    assert sessions(sim, pbx.kind) == 0
    assert not running.done()  # nothing left to record the disconnection on, and that is no failure


def test_a_re_enabled_pbx_is_followed_again(loop_thread, sim, pbx):
    agent = with_agent(pbx)
    loop_thread.start(listener.listen())
    connected(sim, pbx)
    wait_for(lambda: rows(agent) == APPLIED, what="members applied")
    PbxServer.objects.filter(pk=pbx.pk).update(enabled=False)
    let_go(sim, pbx)
    sim.run(sim.sim.restart)  # while it is not followed the PBX restarts and forgets its members
    assert members_on(pbx) == set()

    PbxServer.objects.filter(pk=pbx.pk).update(enabled=True)
    connected(sim, pbx)
    assert len(logins(sim, pbx.kind)) >= 2
    # Resynced and reconciled again: the members are back on the PBX.
    wait_for(lambda: members_on(pbx) == {("support", "2001"), ("sales", "2001")}, what="members back")


def test_a_changed_port_reconnects_to_the_new_address(loop_thread, sim, pbx):
    other = SimulatorThread(ami={"endpoints": ["2001"]}, esl={"agents": ["2001"]})
    try:
        with_agent(pbx)
        loop_thread.start(listener.listen())
        connected(sim, pbx)
        PbxServer.objects.filter(pk=pbx.pk).update(port=fields_for(pbx.kind, other)["port"])
        wait_for(lambda: sessions(sim, pbx.kind) == 0, what="old connection closed")
        connected(other, pbx)
        # Resynced and reconciled on the new PBX.
        wait_for(lambda: members_on(pbx) == {("support", "2001"), ("sales", "2001")}, what="members on the new PBX")
    finally:
        other.close()


def test_a_fixed_secret_reconnects_with_it(loop_thread, sim, pbx):
    good = pbx.secret
    PbxServer.objects.filter(pk=pbx.pk).update(secret="wrong")
    loop_thread.start(listener.listen())
    wait_for(lambda: state(pbx) == ConnectionState.ERROR, what="error state")
    PbxServer.objects.filter(pk=pbx.pk).update(secret=good)
    connected(sim, pbx)
    assert logins(sim, pbx.kind)[0] == "wrong" and logins(sim, pbx.kind)[-1] == good
    assert PbxServer.objects.get(pk=pbx.pk).last_error == ""


def test_a_changed_kind_moves_from_ami_to_esl(loop_thread, sim):
    pbx = PbxServerFactory(name="moving", **fields_for("asterisk", sim))
    loop_thread.start(listener.listen())
    connected(sim, pbx)
    PbxServer.objects.filter(pk=pbx.pk).update(**fields_for("freeswitch", sim))
    wait_for(lambda: sessions(sim, "asterisk") == 0, what="AMI connection closed")
    pbx.refresh_from_db()
    connected(sim, pbx)


def test_a_failed_read_of_the_pbx_list_is_tried_again(loop_thread, sim, ast_pbx, monkeypatch):
    failures = []
    real = listener.pbxs_enabled

    def flaky(*, names):
        if len(failures) < 3:
            failures.append(names)
            raise OperationalError(2006, "MySQL server has gone away")
        return real(names=names)

    monkeypatch.setattr(listener, "pbxs_enabled", flaky)
    running = loop_thread.start(listener.listen())
    connected(sim, ast_pbx)
    assert len(failures) == 3 and not running.done()


def test_only_the_named_pbxs_are_followed(loop_thread, sim, ast_pbx, fs_pbx):
    loop_thread.start(listener.listen(names=["fs"]))
    connected(sim, fs_pbx)
    time.sleep(0.5)
    assert sessions(sim, "asterisk") == 0
    assert state(ast_pbx) == ConnectionState.UNKNOWN


def test_pbx_listen_waits_for_a_pbx_instead_of_exiting(monkeypatch, capsys):
    followed = {}

    async def fake_listen(*, names, beat):
        followed.update(names=names, beat=beat)

    monkeypatch.setattr(listener, "listen", fake_listen)
    call_command("pbx_listen", "--pbx", "later", "--no-beat")
    out = capsys.readouterr().out
    assert "Listening to no PBX yet; waiting for later to be enabled" in out
    assert followed == {"names": ["later"], "beat": False}


BUSY = threading.Event()  # a slow periodic task is running


def slow_periodic_task() -> None:
    """A periodic task that takes long: the reconciliation of a big PBX, a database that is slow today."""
    BUSY.set()
    time.sleep(2)


def reconciled(pbx) -> bool:
    return PbxServer.objects.filter(pk=pbx.pk, last_reconciled_at__isnull=False).exists()


def test_a_periodic_task_never_holds_the_pbx_events_back(loop_thread, sim, settings):
    task = f"{__name__}.slow_periodic_task"
    settings.CELERY_BEAT_SCHEDULE = {"slow": {"task": task, "schedule": 0.05}}
    pbx = PbxServerFactory(name="ast", **fields_for("asterisk", sim))
    agent = with_agent(pbx)
    BUSY.clear()
    loop_thread.start(listener.listen(beat=True))
    connected(sim, pbx)
    wait_for(
        lambda: rows(agent) == APPLIED and BUSY.is_set() and reconciled(pbx),
        what="members applied, the slow task started, the reconciliation after connecting done",
    )
    ami = sim.sim.ami
    sim.run(ami.set_paused, "support", ami.queues["support"].members["PJSIP/2001"], True, "Auto-Pause")
    started = time.monotonic()
    wait_for(lambda: rows(agent)["support"] == (True, True), timeout=1.5, what="the pause applied meanwhile")
    assert time.monotonic() - started < 1.0  # the slow task has a second or more to go
