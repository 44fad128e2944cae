"""The dialplans Mayday renders: both files keep the syntax rules, and calls walked through them go where the
pushed routing data says, the same way in Asterisk and in FreeSWITCH."""

from __future__ import annotations

import pytest

from telephony.pbx import dialplan, routing
from telephony.pbx.routing import Route
from tests.dialplans import (
    SyntaxProblem,
    Unsupported,
    check_asterisk,
    check_freeswitch,
    walk_asterisk,
    walk_freeswitch,
)

DOMAIN = "example.com"
TRUNK = "Hugamara_Trunk"
PREFIXES = {str(prefix): f"03233002{prefix}" for prefix in range(43, 50)}
DEFAULT_DID = "0323300247"  # agent 1005's
ROUTE_DID = "0323300246"  # route 07's


def routing_data(**routes: Route) -> dict[str, str]:
    """What Mayday pushes, keyed as Mayday names it (`prefix/45`); extra routes by leading digits or `any`."""
    data = {routing.key("prefix", prefix): did for prefix, did in PREFIXES.items()}
    data[routing.key("default_did", "1005")] = DEFAULT_DID
    data[routing.key("route", "0")] = Route(TRUNK, 1, "256", "", 10, 10).value()
    data[routing.key("route", "07")] = Route(TRUNK, 1, "256", ROUTE_DID, 10, 10).value()
    data[routing.key("route", "0312345679")] = Route("Exact_Trunk", 0, "", "", 10, 10).value()
    data[routing.key("inbound", "0323300245")] = "queue|support"
    data[routing.key("inbound", "0323300246")] = "agent|1006"
    data[routing.key("inbound", "0323300247")] = "extension|700"
    data[routing.key("inbound", "+256323300248")] = "queue|sales"
    for digits, route in routes.items():
        data[routing.key("route", digits)] = route.value()
    return data


class Pbx:
    """One PBX's rendered file and the way to place a call through it, so every walk runs on both."""

    def __init__(self, kind: str, internal_context: str = "default") -> None:
        self.kind = kind
        self.text = dialplan.render(kind, domain=DOMAIN, internal_context=internal_context)

    def call(self, context: str, number: str, data: dict[str, str], *, agent="", did="", endpoint="1005"):
        """`agent`/`did` are the channel variables click-to-call sets; `endpoint` is the calling phone."""
        if self.kind == "asterisk":
            variables = {name: value for name, value in (("MAYDAY_AGENT", agent), ("MAYDAY_DID", did)) if value}
            db = {f"/{routing.FAMILY}/{key}": value for key, value in data.items()}
            return walk_asterisk(
                self.text, context=context, exten=number, db=db, variables=variables, endpoint=endpoint
            )
        variables = {name: value for name, value in (("mayday_agent", agent), ("mayday_did", did)) if value}
        store = {f"{routing.FAMILY}/{routing.hash_key(key)}": value for key, value in data.items()}
        return walk_freeswitch(
            self.text,
            context=context,
            number=number,
            hash=store,
            variables=variables,
            user_name=endpoint,
            domain=DOMAIN,
        )

    def through(self, trunk: str, destination: str) -> str:
        if self.kind == "asterisk":
            return f"PJSIP/{destination}@{trunk}"
        return f"sofia/gateway/{trunk}/{destination}"

    def phone(self, extension: str) -> str:
        return f"PJSIP/{extension}" if self.kind == "asterisk" else f"user/{extension}@{DOMAIN}"

    def queue(self, name: str) -> str:
        return name if self.kind == "asterisk" else f"{name}@{DOMAIN}"


@pytest.fixture(params=dialplan.KINDS)
def pbx(request) -> Pbx:
    return Pbx(request.param)


def outbound(pbx: Pbx, number: str, data=None, **kwargs):
    return pbx.call(dialplan.OUTBOUND, number, data or routing_data(), **kwargs)


def assert_dialled(pbx: Pbx, result, trunk: str, destination: str, did: str) -> None:
    assert result.refused == ""
    assert result.dialled == pbx.through(trunk, destination)
    assert (result.caller_id_number, result.caller_id_name) == (did, did)


def assert_refused(result, why: str) -> None:
    assert result.dialled == "" and result.queue == ""
    assert why in result.refused
    assert result.cause in ("CONGESTION", dialplan.REFUSE_CAUSE)


# Outbound ----------------------------------------------------------------------------------------------


def test_without_a_prefix_the_agents_default_did_is_presented(pbx):
    result = outbound(pbx, "0312345678")
    assert_dialled(pbx, result, TRUNK, "256312345678", DEFAULT_DID)


@pytest.mark.parametrize("prefix", sorted(PREFIXES))
def test_a_prefix_chooses_the_did_and_is_removed(pbx, prefix):
    result = outbound(pbx, f"{prefix}0312345678")
    assert_dialled(pbx, result, TRUNK, "256312345678", PREFIXES[prefix])


def test_strip_and_prepend_of_the_any_route(pbx):
    data = routing_data(any=Route("Other_Trunk", 2, "+44", "", 5, 15))
    result = outbound(pbx, "9920712345", data)
    assert_dialled(pbx, result, "Other_Trunk", "+4420712345", DEFAULT_DID)


def test_a_route_with_a_did_presents_it_unless_a_prefix_chose_one(pbx):
    assert_dialled(pbx, outbound(pbx, "0772123456"), TRUNK, "256772123456", ROUTE_DID)
    assert_dialled(pbx, outbound(pbx, "450772123456"), TRUNK, "256772123456", PREFIXES["45"])


def test_the_longest_route_wins(pbx):
    # route 0 would present the agent's default DID; route 07 has its own
    assert_dialled(pbx, outbound(pbx, "0772123456"), TRUNK, "256772123456", ROUTE_DID)
    # a route as long as the number beats every shorter one
    assert_dialled(pbx, outbound(pbx, "0312345679"), "Exact_Trunk", "0312345679", DEFAULT_DID)
    assert_dialled(pbx, outbound(pbx, "0312345678"), TRUNK, "256312345678", DEFAULT_DID)


@pytest.mark.parametrize("number", ["031234567", "03123456789", "45031234567"])
def test_a_number_of_the_wrong_length_is_refused(pbx, number):
    assert_refused(outbound(pbx, number), "wrong length")


def test_a_number_without_a_route_is_refused(pbx):
    assert_refused(outbound(pbx, "9920712345"), "no route")


def test_no_did_to_present_is_refused(pbx):
    assert_refused(outbound(pbx, "0312345678", endpoint="1009"), "no DID")


def test_an_agent_already_set_beats_the_calling_endpoint(pbx):
    result = outbound(pbx, "0312345678", agent="1005", endpoint="1009")
    assert_dialled(pbx, result, TRUNK, "256312345678", DEFAULT_DID)


@pytest.mark.parametrize("number", ["0312&45678", "0${hash(select/mayday/route_0)}", "0312,45678"])
def test_what_is_not_a_number_is_refused_unread(pbx, number):
    # FreeSWITCH would expand a `${…}` in the number: the walk raises Unsupported if it ever tries
    assert_refused(outbound(pbx, number), "not a number")


# Click-to-call lands in mayday-route ---------------------------------------------------------------------


def test_click_to_call_presents_the_did_it_chose(pbx):
    result = pbx.call(dialplan.ROUTE, "0772123456", routing_data(), agent="1005", did=PREFIXES["45"], endpoint="")
    assert_dialled(pbx, result, TRUNK, "256772123456", PREFIXES["45"])


def test_click_to_call_without_a_did_uses_the_route_then_the_agents_default(pbx):
    result = pbx.call(dialplan.ROUTE, "0772123456", routing_data(), agent="1005", endpoint="")
    assert_dialled(pbx, result, TRUNK, "256772123456", ROUTE_DID)
    result = pbx.call(dialplan.ROUTE, "0312345678", routing_data(), agent="1005", endpoint="")
    assert_dialled(pbx, result, TRUNK, "256312345678", DEFAULT_DID)


# Inbound -------------------------------------------------------------------------------------------------


def test_inbound_to_a_queue(pbx):
    result = pbx.call(dialplan.INBOUND, "0323300245", routing_data())
    assert result.queue == pbx.queue("support")
    assert result.answered or pbx.kind == "asterisk"  # Queue() answers by itself


def test_inbound_to_an_e164_did(pbx):
    assert pbx.call(dialplan.INBOUND, "+256323300248", routing_data()).queue == pbx.queue("sales")


def test_inbound_to_an_agent(pbx):
    result = pbx.call(dialplan.INBOUND, "0323300246", routing_data())
    assert (result.dialled, result.dial_timeout) == (pbx.phone("1006"), str(dialplan.AGENT_DIAL_SECONDS))


@pytest.mark.parametrize("internal_context", ["default", "internal"])
def test_inbound_to_an_extension_of_the_internal_context(internal_context):
    for kind in dialplan.KINDS:
        result = Pbx(kind, internal_context).call(dialplan.INBOUND, "0323300247", routing_data())
        assert result.transferred == (internal_context, "700")


def test_an_unknown_did_is_refused(pbx):
    assert_refused(pbx.call(dialplan.INBOUND, "0323300249", routing_data()), "no inbound target")
    assert_refused(pbx.call(dialplan.INBOUND, "0323300245x", routing_data()), "")


# The files -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("internal_context", ["default", "from-internal"])
def test_the_rendered_files_keep_the_rules(internal_context):
    check_asterisk(dialplan.render("asterisk", internal_context=internal_context))
    check_freeswitch(dialplan.render("freeswitch", domain=DOMAIN, internal_context=internal_context))


def test_the_files_say_how_to_install_them():
    asterisk = dialplan.render("asterisk")
    assert "#include extensions_mayday.conf" in asterisk and "dialplan reload" in asterisk
    freeswitch = dialplan.render("freeswitch", domain=DOMAIN)
    assert "conf/dialplan/" in freeswitch and "reloadxml" in freeswitch


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "freeswitch"}, "needs the domain"),
        ({"kind": "freeswitch", "domain": "bad domain"}, "bad domain"),
        ({"kind": "asterisk", "domain": "x;y"}, "bad domain"),
        ({"kind": "asterisk", "internal_context": "from internal"}, "bad internal context"),
        ({"kind": "freeswitch", "domain": DOMAIN, "internal_context": ""}, "bad internal context"),
        ({"kind": "yate"}, "unknown PBX kind"),
    ],
)
def test_render_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dialplan.render(**kwargs)


def mutated(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("same => n,Set(MAYDAY_P=0)", "same => n,Set(MAYDAY_P=0", "not <App>"),
        ("${LEN(${EXTEN})}])", "${LEN(${EXTEN}])", "unbalanced"),
        ("exten => s,1,", "exten => s,2,", "priority 1"),
        ("same => n,Return()", "same => n,Playback(hello)", "unknown application"),
        ("?:noroute)", "?:nowhere)", "no label 'nowhere'"),
        ("same => n,EndWhile()\n", "", "While without EndWhile"),
        ("NoOp(Mayday inbound call to ${EXTEN})", "NoOp(Mayday inbound; call)", "';'"),
        ("same => n,Return()", "same =>\tn,Return()", "tab"),
        ("exten => s,1,", "same => n,", "before any 'exten =>'"),
        ("?Set(MAYDAY_N=10))", "?Goto(parse))", "ExecIf may run"),
        ("Gosub(mayday-dial,s,", "Gosub(mayday-dail,s,", "Gosub to an extension"),
        ("Goto(mayday-route,", "Goto(mayday-rout,", "no context mayday-rout"),
    ],
)
def test_the_asterisk_checker_rejects_broken_files(old, new, problem):
    with pytest.raises(SyntaxProblem, match=problem):
        check_asterisk(mutated(dialplan.render("asterisk"), old, new))


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("</include>", "", "not well-formed"),
        ("</condition>", "", "not well-formed"),
        ('<action application="answer" />', '<condition field="x" expression="y" />', "nested condition"),
        ('application="answer"', 'application="playback"', "unknown application"),
        ('application="answer"', 'application="answer" inline="true"', "cannot run inline"),
        ('expression="^(.+)$"', 'expression="^(.+$"', "does not compile"),
        ('data="mayday_agent=${user_name}"', 'data="mayday_agent=${user_name"', "unclosed"),
        ('data="$1@example.com"', 'data="$2@example.com"', "capture"),
        ('<condition field="${mayday_did}" expression="^$">', '<condition field="${mayday_did}">', "or neither"),
        ('<extension name="mayday-dial">', "<extension>", "named"),
        ("<include>", "<document>", "not well-formed"),
    ],
)
def test_the_freeswitch_checker_rejects_broken_files(old, new, problem):
    with pytest.raises(SyntaxProblem, match=problem):
        check_freeswitch(mutated(dialplan.render("freeswitch", domain=DOMAIN), old, new))


def test_the_freeswitch_checker_wants_an_include_root():
    with pytest.raises(SyntaxProblem, match="not <include>"):
        check_freeswitch('<document><context name="x"/></document>')


# The interpreters themselves -----------------------------------------------------------------------------


def walk(text: str, exten: str = "12345"):
    return walk_asterisk(text, context="t", exten=exten, db={}, variables={}, endpoint="e")


def test_asterisk_walk_follows_expressions_substrings_and_patterns():
    text = "\n".join(
        [
            "[t]",
            'exten => _X.,1,Set(A=$[1 + 2 = 3 & "a" != "" | 0])',
            "same => n,Set(B=${EXTEN:1:2}${EXTEN:-2}${EXTEN:9})",
            "same => n,GotoIf($[${A} = 1 & ${B} = 2345]?yes)",
            "same => n,Congestion()",
            "same => n(yes),Queue(q)",
        ]
    )
    result = walk(text)
    assert (result.queue, result.variables["A"], result.variables["B"]) == ("q", "1", "2345")
    assert walk(text, "1").refused == "no extension 1 in t"  # `_X.` needs two characters or more


def test_asterisk_walk_refuses_what_it_does_not_implement():
    with pytest.raises(Unsupported, match="operator"):
        walk("[t]\nexten => _X.,1,Set(A=$[2 * 3])")
    with pytest.raises(Unsupported, match="function"):
        walk("[t]\nexten => _X.,1,Set(A=${DB(mayday/x)})")


def fs_walk(extensions: str, number: str = "12345"):
    text = f'<include><context name="t">{extensions}</context></include>'
    return walk_freeswitch(text, context="t", number=number, hash={}, variables={}, user_name="u", domain="d")


def test_freeswitch_walk_queues_the_actions_of_a_condition_even_when_a_later_one_fails():
    result = fs_walk(
        '<extension name="a"><condition field="destination_number" expression="^1">'
        '<action application="set" data="x=one"/></condition>'
        '<condition field="destination_number" expression="^2"/></extension>'
        '<extension name="b"><condition><action application="callcenter" data="${x}"/></condition></extension>'
    )
    assert result.queue == "one"


def test_freeswitch_walk_shows_conditions_only_inline_sets():
    def extensions(inline: str) -> str:
        return (
            f'<extension name="a" continue="true"><condition field="destination_number" expression="^(\\d\\d)">'
            f'<action application="set" data="x=$1" {inline}/></condition></extension>'
            '<extension name="b"><condition field="${x}" expression="^12$">'
            '<action application="callcenter" data="seen"/></condition></extension>'
            '<extension name="c"><condition><action application="callcenter" data="unseen"/></condition></extension>'
        )

    assert fs_walk(extensions('inline="true"')).queue == "seen"
    assert fs_walk(extensions("")).queue == "unseen"


def test_freeswitch_walk_cuts_variables_as_freeswitch_does():
    result = fs_walk(
        '<extension name="a"><condition>'
        '<action application="callcenter" data="${destination_number:1:2}/${destination_number:-2}/'
        '${destination_number:9}/${destination_number:${destination_number:0:1}}"/>'
        "</condition></extension>"
    )
    assert result.queue == "23/45//2345"


def test_freeswitch_walk_refuses_what_it_does_not_implement():
    with pytest.raises(Unsupported, match="API system"):
        fs_walk('<extension name="a"><condition field="${system(id)}" expression="^$"/></extension>')
    with pytest.raises(Unsupported, match="break"):
        fs_walk('<extension name="a"><condition field="context" expression="^t$" break="on-true"/></extension>')
