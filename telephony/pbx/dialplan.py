"""The dialplans that route Mayday's calls, one file per PBX, rendered once and installed by hand.

The files never change with the routing data: Mayday pushes that into the PBX's own store (AstDB family
`mayday`, mod_hash realm `mayday`; see `routing`) and the dialplan reads it while the call is placed. Both
files have the same contexts and behave the same way:

- `mayday-outbound`: where agents' phones send what they dial. A leading `prefix/<p>` (1-4 digits) chooses
  the DID to present and is removed; the rest goes to `mayday-route`.
- `mayday-route`: also where click-to-call lands, with the agent (and maybe the DID) already set. The
  longest `route/<leading digits>` (else `route/any`) gives the trunk, the digits to strip and prepend, the
  route's DID and the allowed length. The DID presented is the one chosen, else the route's, else the agent's
  `default_did/<agent>`. Without a route, a DID or a length in range the call is refused.
- `mayday-dial` (Asterisk; an extension at the end of `mayday-route` in FreeSWITCH): present the DID as
  caller ID number and name and dial the number through the trunk.
- `mayday-inbound`: where the trunk delivers calls; `inbound/<did>` says queue, agent or internal extension.

A refused call gets `Congestion()` in Asterisk and `hangup UNALLOCATED_NUMBER` in FreeSWITCH, after a log
line saying why.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from telephony import validators
from telephony.pbx import routing

KINDS = ("asterisk", "freeswitch")

OUTBOUND = "mayday-outbound"
ROUTE = "mayday-route"
DIAL = "mayday-dial"
INBOUND = "mayday-inbound"

AGENT_DIAL_SECONDS = 30  # how long an inbound call rings an agent's phone
REFUSE_CAUSE = "UNALLOCATED_NUMBER"  # FreeSWITCH hangup cause of a refused call (SIP 404)


def render(kind: str, *, domain: str = "", internal_context: str = "default") -> str:
    """The dialplan file for a PBX kind. `domain` is the FreeSWITCH domain of agents and queues (required
    there, unused by Asterisk); `internal_context` is where `inbound/<did>` = `extension|<n>` sends a call."""
    if kind not in KINDS:
        raise ValueError(f"unknown PBX kind {kind!r}: use one of {', '.join(KINDS)}")
    _checked(validators.validate_name, internal_context, "internal context")
    if kind == "freeswitch" and not domain:
        raise ValueError("a FreeSWITCH dialplan needs the domain its agents and queues live in")
    if domain:
        _checked(validators.validate_domain, domain, "domain")
    if kind == "asterisk":
        return _asterisk(internal_context)
    return _freeswitch(domain, internal_context)


def _checked(check, value: str, what: str) -> str:
    try:
        return check(value)
    except Exception as exc:  # django's ValidationError; this module keeps clear of Django
        reason = "; ".join(getattr(exc, "messages", [str(exc)]))
        raise ValueError(f"bad {what}: {reason}") from exc


# Asterisk ------------------------------------------------------------------------------------------------


def _astdb(kind: str, name: str) -> str:
    """The argument of DB_EXISTS(): `mayday/prefix/<name>`."""
    return f"{routing.FAMILY}/{routing.key(kind, name)}"


def _refuse_lines(label: str, why: str) -> list[str]:
    return [f"same => n({label}),Verbose(1,Mayday: {why})", "same => n,Congestion()"]


def _asterisk(internal_context: str) -> str:
    digits_only = '$["${FILTER(0-9,${EXTEN})}" != "${EXTEN}"]'
    lines = [
        "; Mayday dialplan for Asterisk: extensions_mayday.conf",
        ";",
        "; Copy this file next to extensions.conf, add the line",
        ";   #include extensions_mayday.conf",
        "; to extensions.conf and run `dialplan reload` in the Asterisk CLI.",
        "; Agents' PJSIP endpoints use context=mayday-outbound and the trunk's endpoint context=mayday-inbound.",
        "; The file never changes with the routing data: Mayday pushes prefixes, routes, DIDs and inbound",
        "; targets into AstDB (family mayday) and these contexts read them while the call is placed.",
        "",
        f"[{OUTBOUND}]",
        "; An agent dials a number, maybe after a prefix that chooses the DID to present.",
        "; The agent is MAYDAY_AGENT when already set, else the calling PJSIP endpoint.",
        "exten => _X.,1,NoOp(Mayday outbound call to ${EXTEN})",
        f"same => n,GotoIf({digits_only}?notnumber)",
        'same => n,ExecIf($["${MAYDAY_AGENT}" = ""]?Set(MAYDAY_AGENT=${CHANNEL(endpoint)}))',
        "; Try prefixes of 1 to 4 digits (at least one digit must follow); no prefix starts another.",
        "same => n,Set(MAYDAY_P=0)",
        "same => n,Set(MAYDAY_N=1)",
        f"same => n,While($[${{MAYDAY_P}} = 0 & ${{MAYDAY_N}} <= {routing.PREFIX_DIGITS_MAX}"
        " & ${MAYDAY_N} < ${LEN(${EXTEN})}])",
        f"same => n,Set(MAYDAY_FOUND=${{DB_EXISTS({_astdb('prefix', '${EXTEN:0:${MAYDAY_N}}')})}})",
        "same => n,ExecIf(${MAYDAY_FOUND}?Set(MAYDAY_DID=${DB_RESULT}))",
        "same => n,ExecIf(${MAYDAY_FOUND}?Set(MAYDAY_P=${MAYDAY_N}))",
        "same => n,Set(MAYDAY_N=$[${MAYDAY_N} + 1])",
        "same => n,EndWhile()",
        f"same => n,Goto({ROUTE},${{EXTEN:${{MAYDAY_P}}}},1)",
        *_refuse_lines("notnumber", "${EXTEN} is not a number"),
        "",
        f"[{ROUTE}]",
        "; The number to call, with MAYDAY_AGENT (and MAYDAY_DID when a prefix or click-to-call chose one) set.",
        "exten => _X.,1,NoOp(Mayday route for ${EXTEN} from ${MAYDAY_AGENT})",
        f"same => n,GotoIf({digits_only}?notnumber)",
        f"; The longest route/<leading digits> wins: try {routing.ROUTE_DIGITS_MAX} digits (or fewer) down to 1.",
        "same => n,Set(MAYDAY_ROUTE=)",
        "same => n,Set(MAYDAY_N=${LEN(${EXTEN})})",
        f"same => n,ExecIf($[${{MAYDAY_N}} > {routing.ROUTE_DIGITS_MAX}]?Set(MAYDAY_N={routing.ROUTE_DIGITS_MAX}))",
        'same => n,While($["${MAYDAY_ROUTE}" = "" & ${MAYDAY_N} > 0])',
        f"same => n,Set(MAYDAY_FOUND=${{DB_EXISTS({_astdb('route', '${EXTEN:0:${MAYDAY_N}}')})}})",
        "same => n,ExecIf(${MAYDAY_FOUND}?Set(MAYDAY_ROUTE=${DB_RESULT}))",
        "same => n,Set(MAYDAY_N=$[${MAYDAY_N} - 1])",
        "same => n,EndWhile()",
        'same => n,GotoIf($["${MAYDAY_ROUTE}" != ""]?parse)',
        f"same => n,GotoIf(${{DB_EXISTS({_astdb('route', routing.ANY)})}}?:noroute)",
        "same => n,Set(MAYDAY_ROUTE=${DB_RESULT})",
        "; <trunk>|<strip>|<prepend>|<did>|<min>|<max>",
        "same => n(parse),Set(MAYDAY_TRUNK=${CUT(MAYDAY_ROUTE,|,1)})",
        "same => n,Set(MAYDAY_STRIP=${CUT(MAYDAY_ROUTE,|,2)})",
        "same => n,Set(MAYDAY_PREPEND=${CUT(MAYDAY_ROUTE,|,3)})",
        "same => n,Set(MAYDAY_ROUTE_DID=${CUT(MAYDAY_ROUTE,|,4)})",
        "same => n,Set(MAYDAY_MIN=${CUT(MAYDAY_ROUTE,|,5)})",
        "same => n,Set(MAYDAY_MAX=${CUT(MAYDAY_ROUTE,|,6)})",
        "same => n,GotoIf($[${LEN(${EXTEN})} >= ${MAYDAY_MIN} & ${LEN(${EXTEN})} <= ${MAYDAY_MAX}]?lengthok)",
        *_refuse_lines("badlength", "${EXTEN} has the wrong length for its route (${MAYDAY_MIN} to ${MAYDAY_MAX})"),
        "; The DID presented: the one chosen, else the route's, else the agent's default.",
        'same => n(lengthok),ExecIf($["${MAYDAY_DID}" = ""]?Set(MAYDAY_DID=${MAYDAY_ROUTE_DID}))',
        'same => n,GotoIf($["${MAYDAY_DID}" != ""]?dial)',
        f"same => n,GotoIf(${{DB_EXISTS({_astdb('default_did', '${MAYDAY_AGENT}')})}}?:nodid)",
        "same => n,Set(MAYDAY_DID=${DB_RESULT})",
        f"same => n(dial),Gosub({DIAL},s,1(${{MAYDAY_PREPEND}}${{EXTEN:${{MAYDAY_STRIP}}}},"
        "${MAYDAY_DID},${MAYDAY_TRUNK}))",
        "same => n,Hangup()",
        *_refuse_lines("noroute", "no route for ${EXTEN}"),
        *_refuse_lines("nodid", "no DID to present for ${MAYDAY_AGENT}"),
        *_refuse_lines("notnumber", "${EXTEN} is not a number"),
        "",
        f"[{DIAL}]",
        f"; Gosub({DIAL},s,1(<destination>,<did>,<trunk>)): present the DID, dial through the trunk.",
        "exten => s,1,Set(CALLERID(num)=${ARG2})",
        "same => n,Set(CALLERID(name)=${ARG2})",
        "same => n,Dial(PJSIP/${ARG1}@${ARG3})",
        "same => n,Return()",
        "",
        f"[{INBOUND}]",
        "; The trunk delivers a call to one of our DIDs: inbound/<did> is queue|<name>, agent|<ext> or",
        f"; extension|<n> (an extension of the {internal_context} context).",
        "exten => _[+0-9].,1,NoOp(Mayday inbound call to ${EXTEN})",
        f"same => n,GotoIf(${{DB_EXISTS({_astdb('inbound', '${EXTEN}')})}}?:unknown)",
        "same => n,Set(MAYDAY_TARGET=${DB_RESULT})",
        "same => n,Set(MAYDAY_KIND=${CUT(MAYDAY_TARGET,|,1)})",
        "same => n,Set(MAYDAY_NAME=${CUT(MAYDAY_TARGET,|,2)})",
        *(f'same => n,GotoIf($["${{MAYDAY_KIND}}" = "{target}"]?{target})' for target in routing.TARGETS),
        *_refuse_lines("unknown", "no inbound target for ${EXTEN}"),
        "same => n(queue),Queue(${MAYDAY_NAME})",
        "same => n,Hangup()",
        f"same => n(agent),Dial(PJSIP/${{MAYDAY_NAME}},{AGENT_DIAL_SECONDS})",
        "same => n,Hangup()",
        f"same => n(extension),Goto({internal_context},${{MAYDAY_NAME}},1)",
    ]
    return "\n".join(lines) + "\n"


# FreeSWITCH ----------------------------------------------------------------------------------------------


def _hash(kind: str, name: str) -> str:
    """`${hash(select/mayday/prefix_<name>)}`: the value, or "" when the key is missing."""
    return f"${{hash(select/{routing.FAMILY}/{routing.hash_key(routing.key(kind, name))})}}"


def _extension(context: ET.Element, name: str, *, more: bool = False) -> ET.Element:
    """`more`: keep hunting after this extension matched (continue="true")."""
    attrs = {"name": name, "continue": "true"} if more else {"name": name}
    return ET.SubElement(context, "extension", attrs)


def _condition(extension: ET.Element, field: str | None = None, expression: str | None = None) -> ET.Element:
    attrs = {"field": field, "expression": expression} if field is not None else {}
    return ET.SubElement(extension, "condition", attrs)


def _action(condition: ET.Element, application: str, data: str = "", *, inline: bool = False) -> None:
    attrs = {"application": application, "data": data} if data else {"application": application}
    if inline:
        attrs["inline"] = "true"
    ET.SubElement(condition, "action", attrs)


def _refuse(condition: ET.Element, why: str) -> None:
    _action(condition, "log", f"WARNING Mayday: {why}")
    _action(condition, "hangup", REFUSE_CAUSE)


def _var(variable: str) -> str:
    """A field reading a channel variable: `${variable}`, "" when it is not set."""
    return f"${{{variable}}}"


def _freeswitch(domain: str, internal_context: str) -> str:
    """FreeSWITCH's XML dialplan has no loops and tests conditions while it hunts, before the actions run:
    lookups are ladders of extensions that keep hunting (continue="true") and set what later conditions
    read with inline="true". Conditions test the number only after it is known to be digits, as a number
    holding `${...}` would otherwise be expanded."""
    root = ET.Element("include")
    not_digits = r"^(?!\d+$)"
    name = "[A-Za-z0-9_.+*#-]+"

    # mayday-outbound
    context = ET.SubElement(root, "context", {"name": OUTBOUND})
    _refuse(_condition(_extension(context, "mayday-not-a-number"), "destination_number", not_digits), "not a number")
    condition = _condition(_extension(context, "mayday-agent", more=True), _var("mayday_agent"), "^$")
    _action(condition, "set", "mayday_agent=${user_name}")
    for length in range(1, routing.PREFIX_DIGITS_MAX + 1):
        extension = _extension(context, f"mayday-prefix-{length}")
        _condition(extension, "destination_number", rf"^\d{{{length}}}\d")
        condition = _condition(extension, _hash("prefix", f"${{destination_number:0:{length}}}"), "^(.+)$")
        _action(condition, "set", "mayday_did=$1")
        _action(condition, "transfer", f"${{destination_number:{length}}} XML {ROUTE}")
    condition = _condition(_extension(context, "mayday-no-prefix"), "destination_number", r"^(\d+)$")
    _action(condition, "transfer", f"$1 XML {ROUTE}")

    # mayday-route
    context = ET.SubElement(root, "context", {"name": ROUTE})
    _refuse(_condition(_extension(context, "mayday-not-a-number"), "destination_number", not_digits), "not a number")
    condition = _condition(_extension(context, "mayday-reset", more=True))
    for variable in ("mayday_route", "mayday_trunk", "mayday_length_ok"):
        _action(condition, "unset", variable, inline=True)
    for length in range(routing.ROUTE_DIGITS_MAX, 0, -1):
        extension = _extension(context, f"mayday-route-{length}", more=True)
        _condition(extension, _var("mayday_route"), "^$")
        _condition(extension, "destination_number", rf"^\d{{{length}}}")
        condition = _condition(extension, _hash("route", f"${{destination_number:0:{length}}}"), "^(.+)$")
        _action(condition, "set", "mayday_route=$1", inline=True)
    extension = _extension(context, "mayday-route-any", more=True)
    _condition(extension, _var("mayday_route"), "^$")
    _action(_condition(extension, _hash("route", routing.ANY), "^(.+)$"), "set", "mayday_route=$1", inline=True)
    condition = _condition(_extension(context, "mayday-no-route"), _var("mayday_route"), "^$")
    _refuse(condition, "no route for ${destination_number}")
    # <trunk>|<strip>|<prepend>|<did>|<min>|<max>
    fields = ("mayday_trunk", "mayday_strip", "mayday_prepend", "mayday_route_did", "mayday_min", "mayday_max")
    parts = r"^([A-Za-z0-9_.-]+)\|(\d+)\|(\+?\d*)\|(\+?\d*)\|(\d+)\|(\d+)$"
    condition = _condition(_extension(context, "mayday-route-fields", more=True), "${mayday_route}", parts)
    for index, variable in enumerate(fields, start=1):
        _action(condition, "set", f"{variable}=${index}", inline=True)
    condition = _condition(_extension(context, "mayday-bad-route"), _var("mayday_trunk"), "^$")
    _refuse(condition, "malformed route ${mayday_route}")
    length_ok = r"^\d{${mayday_min},${mayday_max}}$"
    condition = _condition(_extension(context, "mayday-length", more=True), "destination_number", length_ok)
    _action(condition, "set", "mayday_length_ok=true", inline=True)
    condition = _condition(_extension(context, "mayday-bad-length"), _var("mayday_length_ok"), "^$")
    _refuse(condition, "${destination_number} has the wrong length for its route")
    # The DID presented: the one chosen, else the route's, else the agent's default.
    extension = _extension(context, "mayday-route-did", more=True)
    _condition(extension, _var("mayday_did"), "^$")
    _action(_condition(extension, "${mayday_route_did}", "^(.+)$"), "set", "mayday_did=$1", inline=True)
    extension = _extension(context, "mayday-default-did", more=True)
    _condition(extension, _var("mayday_did"), "^$")
    condition = _condition(extension, _hash("default_did", "${mayday_agent}"), "^(.+)$")
    _action(condition, "set", "mayday_did=$1", inline=True)
    condition = _condition(_extension(context, "mayday-no-did"), _var("mayday_did"), "^$")
    _refuse(condition, "no DID to present for ${mayday_agent}")
    condition = _condition(_extension(context, DIAL))
    for variable in ("effective_caller_id", "origination_caller_id"):
        _action(condition, "set", f"{variable}_number=${{mayday_did}}")
        _action(condition, "set", f"{variable}_name=${{mayday_did}}")
    destination = "${mayday_prepend}${destination_number:${mayday_strip}}"
    _action(condition, "bridge", f"sofia/gateway/${{mayday_trunk}}/{destination}")

    # mayday-inbound
    context = ET.SubElement(root, "context", {"name": INBOUND})
    _refuse(_condition(_extension(context, "mayday-not-a-did"), "destination_number", r"^(?!\+?\d+$)"), "not a DID")
    target = _hash("inbound", "${destination_number}")
    condition = _condition(_extension(context, "mayday-to-queue"), target, rf"^queue\|({name})$")
    _action(condition, "answer")
    _action(condition, "callcenter", f"$1@{domain}")
    condition = _condition(_extension(context, "mayday-to-agent"), target, rf"^agent\|({name})$")
    _action(condition, "set", f"call_timeout={AGENT_DIAL_SECONDS}")
    _action(condition, "bridge", f"user/$1@{domain}")
    condition = _condition(_extension(context, "mayday-to-extension"), target, rf"^extension\|({name})$")
    _action(condition, "transfer", f"$1 XML {internal_context}")
    _refuse(_condition(_extension(context, "mayday-unknown-did")), "no inbound target for ${destination_number}")

    ET.indent(root, space="  ")
    header = (
        "<!--\n"
        "  Mayday dialplan for FreeSWITCH.\n"
        "\n"
        "  Put this file in conf/dialplan/ (freeswitch.xml includes dialplan/*.xml) and run `reloadxml`.\n"
        f"  Agents' users set user_context to {OUTBOUND}; the trunk's SIP profile or gateway sends calls to\n"
        f"  {INBOUND}; click-to-call lands in {ROUTE} with mayday_agent and maybe mayday_did set.\n"
        "  The file never changes with the routing data: Mayday pushes prefixes, routes, DIDs and inbound\n"
        "  targets into mod_hash (realm mayday) and these contexts read them while the call is placed.\n"
        "-->\n"
    )
    return header + ET.tostring(root, encoding="unicode") + "\n"
