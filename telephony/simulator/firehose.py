"""Firehose mode: a burst of AMI or ESL events in the PBX's own wire format, mostly noise, for load tests.

Roughly what a busy Asterisk sends with `Events: on`: about a quarter of the
events are about queue members (status and pause changes), the rest is
dialplan and channel chatter (Newexten, VarSet, RTCP…) Mayday must skip.
"""

from __future__ import annotations

import random

from telephony.simulator.ami import Member, encode
from telephony.simulator.esl import EslServer

RELEVANT_SHARE = 0.25

_AMI_NOISE = [
    (
        "Newexten",
        "dialplan,all",
        [
            ("Channel", "PJSIP/trunk-0000a1"),
            ("ChannelState", "6"),
            ("ChannelStateDesc", "Up"),
            ("CallerIDNum", "0700000001"),
            ("CallerIDName", "Customer"),
            ("Context", "from-pstn"),
            ("Exten", "support"),
            ("Priority", "1"),
            ("Uniqueid", "1795238602.1"),
            ("Linkedid", "1795238602.1"),
            ("Extension", "support"),
            ("Application", "Set"),
            ("AppData", "CHANNEL(language)=en"),
        ],
    ),
    (
        "VarSet",
        "dialplan,all",
        [
            ("Channel", "PJSIP/trunk-0000a1"),
            ("ChannelState", "6"),
            ("Context", "from-pstn"),
            ("Uniqueid", "1795238602.1"),
            ("Linkedid", "1795238602.1"),
            ("Variable", "QUEUEPOSITION"),
            ("Value", "1"),
        ],
    ),
    (
        "RTCPSent",
        "reporting,all",
        [
            ("Channel", "PJSIP/1005-000001"),
            ("SSRC", "0x5c3e2d1a"),
            ("PT", "200(SR)"),
            ("To", "127.0.0.1:16384"),
            ("ReportCount", "1"),
            ("SentNTP", "1795238602.123"),
            ("SentRTP", "8000"),
            ("SentPackets", "50"),
            ("SentOctets", "8000"),
        ],
    ),
    (
        "Newstate",
        "call,all",
        [
            ("Channel", "PJSIP/1005-000001"),
            ("ChannelState", "5"),
            ("ChannelStateDesc", "Ringing"),
            ("CallerIDNum", "1005"),
            ("Uniqueid", "1795238602.2"),
            ("Linkedid", "1795238602.1"),
        ],
    ),
]


def ami_firehose(members: dict[str, list[str]], n: int, *, seed: int = 1) -> tuple[bytes, int, dict]:
    """`members`: queue -> extensions. Returns (bytes, relevant events, last (paused, reason, status) per member)."""
    rng = random.Random(seed)
    pairs = [(q, ext) for q, exts in members.items() for ext in exts]
    state = {
        pair: Member(interface=f"PJSIP/{pair[1]}", name=f"Agent {pair[1]}", state_interface=f"PJSIP/{pair[1]}")
        for pair in pairs
    }
    chunks, relevant = [], 0
    for _ in range(n):
        if rng.random() < RELEVANT_SHARE:
            pair = rng.choice(pairs)
            queue = pair[0]
            m = state[pair]
            if rng.random() < 0.5:
                m.paused = not m.paused
                m.reason = rng.choice(["Lunch", "Break", "Training"]) if m.paused else ""
                name = "QueueMemberPause"
            else:
                m.status = rng.choice([1, 2, 6])
                m.in_call = m.status == 2
                name = "QueueMemberStatus"
            chunks.append(encode([("Event", name), ("Privilege", "agent,all"), *m.fields(queue)]))
            relevant += 1
        else:
            name, privilege, body = rng.choice(_AMI_NOISE)
            chunks.append(encode([("Event", name), ("Privilege", privilege), *body]))
    final = {pair: (m.paused, m.reason, m.status) for pair, m in state.items()}
    return b"".join(chunks), relevant, final


def esl_firehose(esl: EslServer, extensions: list[str], n: int, *, seed: int = 1) -> tuple[bytes, int, dict]:
    """mod_callcenter events: agent status/state changes among queue chatter. Returns (bytes, relevant, last status)."""
    rng = random.Random(seed)
    status = dict.fromkeys(extensions, "Available")
    chunks, relevant = [], 0
    for _ in range(n):
        ext = rng.choice(extensions)
        agent = f"{ext}@{esl.domain}"
        roll = rng.random()
        if roll < RELEVANT_SHARE / 2:
            status[ext] = rng.choice(["Available", "On Break"])
            headers = [("CC-Agent", agent), ("CC-Action", "agent-status-change"), ("CC-Agent-Status", status[ext])]
            relevant += 1
        elif roll < RELEVANT_SHARE:
            headers = [
                ("CC-Agent", agent),
                ("CC-Action", "agent-state-change"),
                ("CC-Agent-State", rng.choice(["Waiting", "Receiving", "In a queue call"])),
            ]
            relevant += 1
        else:
            headers = [
                ("CC-Queue", f"support@{esl.domain}"),
                ("CC-Action", "members-count"),
                ("CC-Count", str(rng.randint(0, 9))),
                ("CC-Selection", "Single-Queue"),
            ]
        chunks.append(esl.event_bytes(headers))
    return b"".join(chunks), relevant, status
