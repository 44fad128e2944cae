"""FreeSWITCH agents Mayday needs but mod_callcenter lacks are created, with the PBX server's contact and timeouts.

The `sim` fixture's FreeSWITCH has agents 1000-1099 and 2000-2099 only: 3001 and up are missing.
"""

from __future__ import annotations

import asyncio

import pytest

from agents.models import Agent, SyncState
from agents.selectors import status_documents
from telephony import tasks
from telephony.admin import PbxServerForm
from telephony.models import PbxServer
from telephony.pbx.freeswitch import EslConnection
from tests.factories import agent_on

SETTINGS = {
    "agent_max_no_answer": 2,
    "agent_wrap_up_time": 15,
    "agent_reject_delay_time": 20,
    "agent_busy_delay_time": 30,
    "agent_no_answer_delay_time": 5,
}


def api_commands(sim) -> list[str]:
    return [c.removeprefix("api ") for c in sim.sim.esl.commands if c.startswith("api ")]


def test_a_missing_agent_is_created_with_contact_type_and_timeouts_then_set_available(sim, fs_pbx):
    PbxServer.objects.filter(pk=fs_pbx.pk).update(
        agent_contact="[call_timeout=20]user/{extension}@{domain}", **SETTINGS
    )
    agent = agent_on(fs_pbx, extension="3001", queues=("support",))
    tasks.apply_agent_status.delay(agent.pk)

    created = sim.sim.esl.agents["3001@default"]
    assert (created.type, created.contact, created.status, created.state) == (
        "callback",
        "[call_timeout=20]user/3001@default",
        "Available",
        "Waiting",
    )
    timeouts = (
        created.max_no_answer,
        created.wrap_up_time,
        created.reject_delay_time,
        created.busy_delay_time,
        created.no_answer_delay_time,
    )
    assert timeouts == (2, 15, 20, 30, 5)
    assert ("support@default", "3001@default") in sim.sim.esl.tiers
    assert api_commands(sim) == [
        "callcenter_config tier add support@default 3001@default 1 1",  # -ERR Agent not found!
        "callcenter_config agent add 3001@default callback",
        "callcenter_config agent set contact 3001@default [call_timeout=20]user/3001@default",
        "callcenter_config agent set max_no_answer 3001@default 2",
        "callcenter_config agent set wrap_up_time 3001@default 15",
        "callcenter_config agent set reject_delay_time 3001@default 20",
        "callcenter_config agent set busy_delay_time 3001@default 30",
        "callcenter_config agent set no_answer_delay_time 3001@default 5",
        "callcenter_config tier add support@default 3001@default 1 1",
        "callcenter_config agent set status 3001@default Available",
    ]
    agent.refresh_from_db()
    assert (agent.sync_state, agent.sync_error) == (SyncState.APPLIED, "")


def test_an_agent_without_queues_is_created_on_the_status_refusal(sim, fs_pbx):
    agent = agent_on(fs_pbx, extension="3004", queues=())
    tasks.apply_agent_status.delay(agent.pk)
    assert api_commands(sim)[:2] == [
        "callcenter_config agent set status 3004@default Available",  # -ERR Agent not found!
        "callcenter_config agent add 3004@default callback",
    ]
    assert sim.sim.esl.agents["3004@default"].status == "Available"
    assert Agent.objects.get(pk=agent.pk).sync_state == SyncState.APPLIED


def test_an_existing_agent_costs_no_extra_command(sim, fs_pbx):
    agent = agent_on(fs_pbx, extension="2001", queues=("support",))
    tasks.apply_agent_status.delay(agent.pk)
    assert api_commands(sim) == [
        "callcenter_config tier add support@default 2001@default 1 1",
        "callcenter_config agent set status 2001@default Available",
    ]


def test_reconciliation_creates_a_missing_agent(sim, fs_pbx):
    agent = agent_on(fs_pbx, extension="3002")
    assert tasks.poll_pbx.delay(fs_pbx.pk).get() == ["3002: PBX shows no such agent, wanted available"]
    created = sim.sim.esl.agents["3002@default"]
    assert (created.type, created.contact, created.status) == ("callback", "user/3002@default", "Available")
    defaults = (
        created.max_no_answer,
        created.wrap_up_time,
        created.reject_delay_time,
        created.busy_delay_time,
        created.no_answer_delay_time,
    )
    assert defaults == (3, 10, 10, 60, 10)
    assert {q for (q, a) in sim.sim.esl.tiers if a == "3002@default"} == {"support@default", "sales@default"}
    agent.refresh_from_db()
    assert agent.sync_state == SyncState.APPLIED and agent.pbx_status == "Available"
    assert tasks.poll_pbx.delay(fs_pbx.pk).get() == []  # nothing left to repair


BAD_TEMPLATES = [
    "user/{extension}@{domain} &echo",  # a space: callcenter_config would split there
    "user/{extension}@{domain}\r\nevent plain ALL",
    "user/{extension}|user/1000",  # `|` separates the columns of `agent list`
    "user/{extension};fs_path=sip:evil",
    "'user/{extension}'",
    "${sofia_contact({extension}@{domain})}",
    "user/1005@default",  # no {extension}: every agent would ring one phone
]


def form_data(fs_pbx, **changes) -> dict:
    data = {
        "name": "fs2",
        "kind": "freeswitch",
        "host": "127.0.0.1",
        "port": fs_pbx.port,
        "username": "",
        "secret": "ClueCon",
        "domain": "default",
        "agent_contact": "user/{extension}@{domain}",
        "agent_max_no_answer": 3,
        "agent_wrap_up_time": 10,
        "agent_reject_delay_time": 10,
        "agent_busy_delay_time": 60,
        "agent_no_answer_delay_time": 10,
        "enabled": "on",
    }
    return data | changes


def test_the_form_takes_a_good_contact_template_and_timeouts(sim, fs_pbx):
    form = PbxServerForm(
        data=form_data(fs_pbx, agent_contact="{ignore_early_media=true}[call_timeout=20]user/{extension}")
    )
    assert form.is_valid(), form.errors


def test_the_freeswitch_only_fields_may_be_left_empty_for_their_defaults(sim, fs_pbx):
    empty = dict.fromkeys(["agent_contact", *SETTINGS], "")
    form = PbxServerForm(data=form_data(fs_pbx, kind="asterisk", username="mayday", domain="", **empty))
    assert form.is_valid(), form.errors
    pbx = form.save()
    assert (pbx.agent_contact, pbx.agent_max_no_answer, pbx.agent_busy_delay_time) == (
        "user/{extension}@{domain}",
        3,
        60,
    )


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        *(("agent_contact", t) for t in BAD_TEMPLATES),
        ("agent_wrap_up_time", -1),
        ("agent_busy_delay_time", 86401),
        ("agent_max_no_answer", "3; reload"),
    ],
)
def test_a_bad_contact_template_or_timeout_is_refused_at_validation_with_nothing_sent(sim, fs_pbx, field, bad):
    form = PbxServerForm(data=form_data(fs_pbx, **{field: bad}))
    assert not form.is_valid() and field in form.errors
    assert sim.sim.esl.commands == []


def test_a_bad_template_that_got_into_the_database_is_refused_before_the_agent_is_created(sim, fs_pbx):
    PbxServer.objects.filter(pk=fs_pbx.pk).update(agent_contact="user/{extension} &echo")  # bypasses validation
    agent = agent_on(fs_pbx, extension="3003", queues=())
    tasks.apply_agent_status.delay(agent.pk)
    agent.refresh_from_db()
    assert agent.sync_state == SyncState.FAILED and "is not a valid contact" in agent.sync_error
    assert api_commands(sim) == ["callcenter_config agent set status 3003@default Available"]  # refused, no add
    assert "3003@default" not in sim.sim.esl.agents


def test_a_refusal_never_shows_as_applied(sim, fs_pbx):
    """The PBX refuses the change (a queue it does not have): the agent's status says failed, in the PBX's
    words, on every page (they all render the status document), and reconciliation does not mark it applied."""
    agent = agent_on(fs_pbx, extension="2005", queues=("support", "nowhere"))
    tasks.apply_agent_status.delay(agent.pk)
    doc = status_documents(agents=Agent.objects.filter(pk=agent.pk))[0]
    assert (doc["availability"], doc["sync_state"]) == ("available", SyncState.FAILED)
    assert doc["sync_error"] == "FreeSWITCH refused: Queue not found!"
    assert sim.sim.esl.agents["2005@default"].status == "Logged Out"  # the status was never set
    assert tasks.poll_pbx.delay(fs_pbx.pk).get() == ["2005: queue nowhere does not exist on the PBX"]
    assert Agent.objects.get(pk=agent.pk).sync_state == SyncState.FAILED


async def _ask(port: int, commands: list[str]) -> list[str]:
    conn = EslConnection()
    await conn.open("127.0.0.1", port, "ClueCon")
    try:
        return [await conn.api(command) for command in commands]
    finally:
        conn.close()


def test_the_simulator_answers_agent_add_and_set_with_mod_callcenter_words(sim):
    replies = asyncio.run(
        _ask(
            sim.sim.esl_port,
            [
                "callcenter_config agent add 2001@default callback",
                "callcenter_config agent set contact 3001@default user/3001@default",
                "callcenter_config agent set max_no_answer 3001@default 3",
                "callcenter_config agent add 3001@default bogus",
                "callcenter_config agent add 3001@default",
                "callcenter_config agent add 3001@default callback",
                "callcenter_config agent set contact 3001@default user/3001@default",
                "callcenter_config agent set wrap_up_time 3001@default 7",
                "callcenter_config agent set busy_delay_time 3001@default soon",  # atoi: 0
                "callcenter_config agent set type 3001@default inbound",
                "callcenter_config agent del 3999@default",
            ],
        )
    )
    assert replies == [
        "-ERR Agent already exist!\n",
        "-ERR Agent not found!\n",
        "-ERR Agent not found!\n",
        "-ERR Agent type invalid!\n",
        "-ERR Invalid!\n",
        "+OK\n",
        "+OK\n",
        "+OK\n",
        "+OK\n",
        "-ERR Invalid Agent Type!\n",
        "+OK\n",
    ]
    assert (
        sim.sim.esl.agents["3001@default"]
        .row()
        .startswith("3001@default|single_box||callback|user/3001@default|Logged Out|Waiting|0|7|0|0|0|")
    )
