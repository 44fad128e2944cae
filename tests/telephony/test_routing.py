"""Routing data: what supervisors configure reaches AstDB and mod_hash, written only where it differs, repaired
after a restart, and bad input is refused before anything is written."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from telephony import services
from telephony.models import Did, InboundRoute, OutboundRoute, PrefixRoute, Trunk
from telephony.pbx import routing
from telephony.pbx.base import PbxError, backend_for
from telephony.selectors import routing_wanted
from tests.factories import AgentFactory, DidFactory, QueueFactory


def astdb(sim) -> dict[str, str]:
    return {k.removeprefix("/mayday/"): v for k, v in sim.sim.ami.astdb.items() if k.startswith("/mayday/")}


def mod_hash(sim) -> dict[str, str]:
    return {key: value for (realm, key), value in sim.sim.esl.hash.items() if realm == "mayday"}


def db_puts(sim) -> list[tuple[str, str]]:
    return [(a["key"], a.get("val", "")) for a in sim.sim.ami.actions if a["action"].lower() == "dbput"]


def configure(pbx) -> None:
    """A trunk, two DIDs, a prefix, a route through the trunk, an agent's default DID and an inbound route."""
    trunk = Trunk.objects.create(pbx=pbx, name="Hugamara_Trunk")
    lacueva = DidFactory(number="0323300245", label="LaCueva")
    mama = DidFactory(number="0323300246", label="Mama Oliech")
    PrefixRoute.objects.create(pbx=pbx, prefix="45", did=lacueva)
    OutboundRoute.objects.create(
        pbx=pbx, name="Uganda", match="0", min_length=10, max_length=10, strip=1, prepend="256", trunk=trunk
    )
    AgentFactory(extension="1005", pbx=pbx, default_did=mama)
    InboundRoute.objects.create(did=lacueva, pbx=pbx, target="queue", queue=QueueFactory(name="support", pbx=pbx))


# An inbound DID under each spelling a trunk may hand it over in.
INBOUND = {f"inbound/{n}": "queue|support" for n in ("0323300245", "+256323300245", "256323300245")}
WANTED = {
    "prefix/45": "0323300245",
    "route/0": "Hugamara_Trunk|1|256||10|10",
    "default_did/1005": "0323300246",
} | INBOUND


def test_what_a_pbx_should_hold(ast_pbx):
    configure(ast_pbx)
    assert routing_wanted(pbx=ast_pbx) == WANTED
    Trunk.objects.update(enabled=False)  # a disabled trunk's routes come off the PBX
    Did.objects.filter(number="0323300245").update(allow_inbound=False)
    assert routing_wanted(pbx=ast_pbx) == {"prefix/45": "0323300245", "default_did/1005": "0323300246"}


@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
def test_a_save_is_pushed_and_only_the_difference_is_written(
    kind, sim, ast_pbx, fs_pbx, django_capture_on_commit_callbacks
):
    pbx = ast_pbx if kind == "asterisk" else fs_pbx
    held = astdb if kind == "asterisk" else lambda s: {routing.from_hash_key(k): v for k, v in mod_hash(s).items()}
    with django_capture_on_commit_callbacks(execute=True):
        configure(pbx)
    assert held(sim) == WANTED
    sim.sim.ami.actions.clear()
    sim.sim.esl.commands.clear()
    with django_capture_on_commit_callbacks(execute=True):  # one change: one write
        PrefixRoute.objects.filter(prefix="45").update(prefix="46")
        PrefixRoute.objects.get(prefix="46").save()
    assert held(sim) == {**{k: v for k, v in WANTED.items() if k != "prefix/45"}, "prefix/46": "0323300245"}
    writes = (
        [
            a["action"]
            for a in sim.sim.ami.actions
            if a["action"].lower().startswith("db") and a["action"] != "DBGetTree"
        ]
        if kind == "asterisk"
        else [c for c in sim.sim.esl.commands if c.startswith("api hash ")]
    )
    assert len(writes) == 2, writes  # the new prefix put, the old one deleted
    with django_capture_on_commit_callbacks(execute=True):
        PrefixRoute.objects.all().delete()
        OutboundRoute.objects.all().delete()
    assert set(held(sim)) == {"default_did/1005", *INBOUND}


def test_reconciliation_restores_mod_hash_after_a_freeswitch_restart(sim, fs_pbx):
    configure(fs_pbx)
    services.routing_sync(pbx_id=fs_pbx.pk)
    assert len(mod_hash(sim)) == 6
    sim.run(sim.sim.restart)  # mod_hash lives in memory: a restart empties it
    assert mod_hash(sim) == {}
    found = services.pbx_reconcile(pbx_id=fs_pbx.pk)
    assert mod_hash(sim) == {
        "prefix_45": "0323300245",
        "route_0": "Hugamara_Trunk|1|256||10|10",
        "default_did_1005": "0323300246",
        "inbound_0323300245": "queue|support",
        "inbound_+256323300245": "queue|support",
        "inbound_256323300245": "queue|support",
    }
    assert "routing: prefix/45 set to 0323300245" in found
    assert [f for f in services.pbx_reconcile(pbx_id=fs_pbx.pk) if f.startswith("routing")] == []  # nothing left


def test_astdb_entries_mayday_did_not_write_are_removed_and_changed_ones_repaired(sim, ast_pbx):
    configure(ast_pbx)
    sim.sim.ami.astdb.update({"/mayday/prefix/99": "0323300299", "/mayday/route/0": "Other|0||||", "/other/x": "y"})
    found = services.pbx_reconcile(pbx_id=ast_pbx.pk)
    assert astdb(sim) == WANTED
    assert sim.sim.ami.astdb["/other/x"] == "y"  # another family is not ours
    assert "routing: prefix/99 removed" in found and "routing: route/0 = Hugamara_Trunk|1|256||10|10" in found


def test_changes_made_while_the_pbx_is_down_are_applied_once_on_reconnect(
    sim, ast_pbx, django_capture_on_commit_callbacks
):
    configure(ast_pbx)
    services.routing_sync(pbx_id=ast_pbx.pk)
    sim.run(sim.sim.stop)
    with django_capture_on_commit_callbacks(execute=True):  # the push fails: the PBX is away
        PrefixRoute.objects.create(pbx=ast_pbx, prefix="47", did=Did.objects.get(number="0323300246"))
    ast_pbx.refresh_from_db()
    assert "routing:" in ast_pbx.drift and "/mayday/prefix/47" not in sim.sim.ami.astdb
    sim.run(sim.sim.start)
    sim.sim.ami.actions.clear()
    services.pbx_reconcile(pbx_id=ast_pbx.pk)  # what the listener's reconnect runs
    services.pbx_reconcile(pbx_id=ast_pbx.pk)  # and the next poll
    assert astdb(sim)["prefix/47"] == "0323300246"
    assert db_puts(sim) == [("prefix/47", "0323300246")]


@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
@pytest.mark.parametrize(
    "key, value",
    [
        ("prefix/45", "0323\r\nAction: Logoff"),
        ("prefix/4 5", "0323300245"),
        ("prefix/45", "a b"),
        ("prefix/45\n", "x"),
        ("prefix/45", "${SHELL(rm)}"),
    ],
)
def test_bad_routing_entries_never_reach_the_socket(kind, key, value, sim, ast_pbx, fs_pbx):
    pbx = ast_pbx if kind == "asterisk" else fs_pbx
    with backend_for(pbx) as backend:
        sim.sim.ami.actions.clear()
        sim.sim.esl.commands.clear()
        with pytest.raises(PbxError, match="not a valid routing entry"):
            backend.routing_put(key, value)
    assert not [a for a in sim.sim.ami.actions if a["action"].lower() == "dbput"]
    assert not [c for c in sim.sim.esl.commands if c.startswith("api hash")]


@pytest.mark.django_db
class TestRules:
    def test_prefixes_may_not_overlap(self, pbx):
        did = DidFactory()
        PrefixRoute.objects.create(pbx=pbx, prefix="45", did=did)
        for overlapping in ("4", "456"):
            with pytest.raises(ValidationError, match="overlaps prefix 45"):
                PrefixRoute(pbx=pbx, prefix=overlapping, did=did).full_clean()
        PrefixRoute(pbx=pbx, prefix="46", did=did).full_clean()

    def test_prefixes_and_route_digits_may_not_swallow_each_other(self, pbx):
        did = DidFactory()
        trunk = Trunk.objects.create(pbx=pbx, name="T")
        OutboundRoute.objects.create(pbx=pbx, name="Mobiles", match="07", trunk=trunk)
        PrefixRoute.objects.create(pbx=pbx, prefix="45", did=did)
        for prefix in ("0", "07", "071"):
            with pytest.raises(ValidationError, match="would lose their first digits"):
                PrefixRoute(pbx=pbx, prefix=prefix, did=did).full_clean()
        with pytest.raises(ValidationError, match="prefix 45 before numbers"):
            OutboundRoute(pbx=pbx, name="x", match="4", trunk=trunk).full_clean()
        with pytest.raises(ValidationError, match="Prefix 45 is already used"):
            PrefixRoute(pbx=pbx, prefix="45", did=did).full_clean()
        with pytest.raises(ValidationError, match=r"Route Mobiles .* already takes these numbers"):
            OutboundRoute(pbx=pbx, name="Again", match="07", trunk=trunk).full_clean()
        OutboundRoute(pbx=pbx, name="Rest", match="", trunk=trunk).full_clean()  # every other number: no clash

    def test_a_did_closed_to_outbound_cannot_be_presented(self, pbx):
        closed = DidFactory(allow_outbound=False)
        trunk = Trunk.objects.create(pbx=pbx, name="T")
        with pytest.raises(ValidationError, match="does not allow outbound use"):
            PrefixRoute(pbx=pbx, prefix="45", did=closed).full_clean()
        with pytest.raises(ValidationError, match="does not allow outbound use"):
            OutboundRoute(pbx=pbx, name="x", match="0", trunk=trunk, did=closed).full_clean()
        agent = AgentFactory(pbx=pbx, default_did=closed)
        with pytest.raises(ValidationError, match="does not allow outbound use"):
            agent.full_clean(exclude=["user"])

    def test_a_did_in_use_cannot_be_closed(self, pbx):
        did = DidFactory()
        PrefixRoute.objects.create(pbx=pbx, prefix="45", did=did)
        did.allow_outbound = False
        with pytest.raises(ValidationError, match="Calls present this number"):
            did.full_clean()

    def test_a_trunk_on_another_pbx_is_refused(self, pbx):
        other = Trunk.objects.create(pbx=QueueFactory().pbx, name="Elsewhere")
        with pytest.raises(ValidationError, match="on another PBX"):
            OutboundRoute(pbx=pbx, name="x", match="0", trunk=other).full_clean()

    @pytest.mark.parametrize(
        "field, value", [("match", "0 7"), ("match", "07\n"), ("prepend", "25 6"), ("match", "7a")]
    )
    def test_route_digits_are_digits(self, pbx, field, value):
        route = OutboundRoute(pbx=pbx, name="x", trunk=Trunk.objects.create(pbx=pbx, name="T"), **{field: value})
        with pytest.raises(ValidationError) as exc:
            route.full_clean()
        assert field in exc.value.message_dict

    def test_dids_are_kept_in_one_form(self, pbx):
        did = Did(number="+256323300245", label="LaCueva")
        did.full_clean()
        did.save()
        assert did.number == "0323300245"
        for twin in ("256323300245", "0323300245"):
            with pytest.raises(ValidationError, match="already exists"):
                Did(number=twin, label="Again").full_clean()
        with pytest.raises(ValidationError, match=r"too short|no number"):
            Did(number="0323", label="Short").full_clean()

    def test_inbound_routes_point_at_one_thing_on_their_pbx(self, pbx):
        did = DidFactory()
        elsewhere = QueueFactory(name="support")
        with pytest.raises(ValidationError, match="is on PBX"):
            InboundRoute(did=did, pbx=pbx, target="queue", queue=elsewhere).full_clean()
        with pytest.raises(ValidationError, match="Choose the agent"):
            InboundRoute(did=did, pbx=pbx, target="agent").full_clean()
        with pytest.raises(ValidationError, match="leave the extension empty"):
            InboundRoute(did=did, pbx=pbx, target="queue", queue=QueueFactory(pbx=pbx), extension="700").full_clean()


@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
@pytest.mark.parametrize(
    "dialled, variables, dialled_as, caller_id",
    [
        ("0700771301", {}, "256700771301", "0323300246"),  # no prefix: the agent's default DID
        ("450700771301", {}, "256700771301", "0323300245"),  # prefix 45: its DID, the prefix removed
        ("0800123456", {}, "0800123456", "0323300247"),  # the fixed-DID route, no rewriting
        ("450800123456", {}, "0800123456", "0323300245"),  # a prefix chooses over the route's DID
        ("0700771301", {"did": "0323300247"}, "256700771301", "0323300247"),  # click-to-call's chosen DID
    ],
)
def test_a_dialled_number_walks_the_rendered_dialplan_with_the_pushed_data(
    kind, dialled, variables, dialled_as, caller_id, sim, ast_pbx, fs_pbx
):
    """What Mayday pushed, read back from the PBX, through the dialplan Mayday renders (tests/dialplans.py)."""
    from telephony.pbx import dialplan
    from tests.dialplans import walk_asterisk, walk_freeswitch

    pbx = ast_pbx if kind == "asterisk" else fs_pbx
    configure(pbx)
    fixed = DidFactory(number="0323300247", label="Java Junction")
    OutboundRoute.objects.create(
        pbx=pbx, name="Free", match="080", min_length=10, max_length=10, trunk=Trunk.objects.get(), did=fixed
    )
    services.routing_sync(pbx_id=pbx.pk)
    text = dialplan.render(pbx.kind, domain="default")
    context = "mayday-route" if variables else "mayday-outbound"
    if kind == "asterisk":
        channel = {"MAYDAY_AGENT": "1005", "MAYDAY_DID": variables["did"]} if variables else {}
        result = walk_asterisk(
            text, context=context, exten=dialled, db=dict(sim.sim.ami.astdb), variables=channel, endpoint="1005"
        )
        assert result.dialled == f"PJSIP/{dialled_as}@Hugamara_Trunk"
    else:
        channel = {"mayday_agent": "1005", "mayday_did": variables["did"]} if variables else {}
        held = {f"{realm}/{key}": value for (realm, key), value in sim.sim.esl.hash.items()}
        result = walk_freeswitch(
            text, context=context, number=dialled, hash=held, variables=channel, user_name="1005", domain="default"
        )
        assert result.dialled == f"sofia/gateway/Hugamara_Trunk/{dialled_as}"
    assert (result.caller_id_number, result.caller_id_name) == (caller_id, caller_id)


@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
@pytest.mark.parametrize("called", ["0323300245", "+256323300245", "256323300245"])
def test_a_call_to_a_did_reaches_its_queue_however_the_trunk_writes_it(kind, called, sim, ast_pbx, fs_pbx):
    from telephony.pbx import dialplan
    from tests.dialplans import walk_asterisk, walk_freeswitch

    pbx = ast_pbx if kind == "asterisk" else fs_pbx
    configure(pbx)
    services.routing_sync(pbx_id=pbx.pk)
    text = dialplan.render(pbx.kind, domain="default")
    if kind == "asterisk":
        result = walk_asterisk(
            text,
            context="mayday-inbound",
            exten=called,
            db=dict(sim.sim.ami.astdb),
            variables={},
            endpoint="Hugamara_Trunk",
        )
        assert result.queue == "support"
    else:
        held = {f"{realm}/{key}": value for (realm, key), value in sim.sim.esl.hash.items()}
        result = walk_freeswitch(
            text, context="mayday-inbound", number=called, hash=held, variables={}, user_name="", domain="default"
        )
        assert result.queue == "support@default"
