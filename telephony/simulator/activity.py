"""Scripted life for the simulator: callers join queues, members ring, talk or miss, callers give up,
phones register and drop. Event order and fields follow the recorded answered/abandoned calls."""

from __future__ import annotations

import asyncio
import random
import time
import uuid

from telephony.simulator.ami import AmiServer, Caller, Member
from telephony.simulator.esl import CcCall, EslServer, Leg


def _channel(
    prefix: str,
    channel: str,
    uniqueid: str,
    number: str,
    name: str,
    context: str,
    exten: str,
    *,
    linkedid: str = "",
    up: bool = True,
) -> list:
    return [
        (f"{prefix}Channel", channel),
        (f"{prefix}ChannelState", "6" if up else "0"),
        (f"{prefix}ChannelStateDesc", "Up" if up else "Down"),
        (f"{prefix}CallerIDNum", number),
        (f"{prefix}CallerIDName", name),
        (f"{prefix}ConnectedLineNum", number),
        (f"{prefix}ConnectedLineName", name),
        (f"{prefix}Language", "en"),
        (f"{prefix}AccountCode", ""),
        (f"{prefix}Context", context),
        (f"{prefix}Exten", exten),
        (f"{prefix}Priority", "2" if not prefix else "1"),
        (f"{prefix}Uniqueid", uniqueid),
        (f"{prefix}Linkedid", linkedid or uniqueid),
    ]


class Activity:
    """Drives both PBX sides at `rate` calls per second (seeded for repeatable runs)."""

    def __init__(
        self,
        ami: AmiServer,
        esl: EslServer,
        *,
        rate: float = 0.3,
        seed: int | None = None,
        ring: float = 1.0,
        talk: tuple[float, float] = (3.0, 12.0),
        patience: tuple[float, float] = (2.0, 20.0),
        no_answer: float = 0.15,
    ):
        self.ami, self.esl = ami, esl
        self.rate, self.ring, self.talk, self.patience = rate, ring, talk, patience
        self.no_answer = no_answer  # the chance that a free member's phone rings unanswered
        self.rng = random.Random(seed)
        self.tasks: set[asyncio.Task] = set()
        ami.caller_entered = lambda queue, uniqueid: self._spawn(self.ami_call(queue, uniqueid))

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run(self) -> None:
        next_contact = time.monotonic() + 5
        while True:
            await asyncio.sleep(self.rng.expovariate(self.rate))
            if self.rng.random() < 0.5 and self.ami.queues:
                self._spawn(self.ami_call(self.rng.choice(list(self.ami.queues))))
            elif self.esl.queues:
                self._spawn(self.esl_call(self.rng.choice(list(self.esl.queues))))
            if time.monotonic() > next_contact:
                next_contact = time.monotonic() + self.rng.uniform(5, 15)
                self.flap_contact()

    def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()

    def flap_contact(self) -> None:
        """A phone registers, stops answering qualify, or unregisters."""
        members = {m.interface.partition("/")[2] for q in self.ami.queues.values() for m in q.members.values()}
        if not members:
            return
        endpoint = self.rng.choice(sorted(members))
        current = self.ami.contacts.get(endpoint)
        if current is None:
            self.ami.set_contact(endpoint, "Reachable", 6000 + int(endpoint) % 1000 if endpoint.isdigit() else 6000)
        else:
            self.ami.set_contact(endpoint, self.rng.choice(["Unreachable", "Reachable", "Removed"]))

    # ---- Asterisk ------------------------------------------------------------------------------

    async def ami_call(self, queue: str, uniqueid: str | None = None) -> None:
        ami, rng = self.ami, self.rng
        state = ami.queues.get(queue)
        if state is None:
            return
        uniqueid = uniqueid or ami.uniqueid()
        number = f"07{rng.randint(10_000_000, 99_999_999)}"
        caller = Caller(f"{ami.local_channel('s', 'caller')};1", uniqueid, number, "Customer")
        state.callers.append(caller)
        chan = _channel("", caller.channel, uniqueid, number, caller.name, "from-pstn", queue)
        ami.emit(
            "QueueCallerJoin",
            "agent,all",
            [*chan, ("Queue", queue), ("Position", str(len(state.callers))), ("Count", str(len(state.callers)))],
        )
        patience = rng.uniform(*self.patience)
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            member = self._free_member(state)
            if member is not None:
                if await self._ring_and_talk(queue, state, caller, chan, member):
                    return
            await asyncio.sleep(0.5)
        self._leave(queue, state, caller, chan, abandon=True)

    def _free_member(self, state) -> Member | None:
        free = [m for m in state.members.values() if not m.paused and m.status == 1 and not m.in_call]
        return self.rng.choice(free) if free else None

    def _leave(self, queue: str, state, caller: Caller, chan: list, *, abandon: bool) -> None:
        if caller not in state.callers:
            return
        position = state.callers.index(caller) + 1
        state.callers.remove(caller)
        if abandon:
            state.abandoned += 1
            now = time.time()
            # The queue had answered the caller: an ANSWERED Cdr ending in Queue, then the abandon (abandoned-call.ami).
            self._caller_cdr(queue, caller, "", now)
            ami_hold = str(int(now - caller.joined))
            self.ami.emit(
                "QueueCallerAbandon",
                "agent,all",
                [
                    *chan,
                    ("Queue", queue),
                    ("Position", str(position)),
                    ("OriginalPosition", str(position)),
                    ("HoldTime", ami_hold),
                ],
            )
        self.ami.emit(
            "QueueCallerLeave",
            "agent,all",
            [*chan, ("Queue", queue), ("Position", str(position)), ("Count", str(len(state.callers)))],
        )

    def _caller_cdr(self, queue: str, caller: Caller, dest_channel: str, end: float) -> None:
        self.ami.emit_cdr(
            uniqueid=caller.uniqueid,
            source=caller.number,
            caller_id=f'"{caller.name}" <{caller.number}>',
            destination=queue,
            context="from-pstn",
            channel=caller.channel,
            dest_channel=dest_channel,
            application="Queue",
            data=queue,
            start=caller.joined,
            answer=caller.joined,
            end=end,
        )

    async def _ring_and_talk(self, queue: str, state, caller: Caller, chan: list, member: Member) -> bool:
        """Ring the member's phone, a Local channel as on the recorded PBX (`Local/1005@agent-phones-0000000d;1`)."""
        ami = self.ami
        extension = member.interface.partition("/")[2].partition("@")[0]
        local, dest_id, leg_id = ami.local_channel(extension, "agent-phones"), ami.uniqueid(), ami.uniqueid()
        called = time.time()

        def dest(up: bool) -> list:
            return _channel(
                "Dest",
                f"{local};1",
                dest_id,
                caller.number,
                caller.name,
                "agent-phones",
                queue,
                linkedid=caller.uniqueid,
                up=up,
            )

        who = [("Queue", queue), ("Interface", member.interface), ("MemberName", member.name)]
        ami.emit("AgentCalled", "agent,all", [*chan, *dest(False), *who])
        ami.set_status(queue, member, 6)
        await asyncio.sleep(self.ring)
        if member.paused or member.interface not in state.members or self.rng.random() < self.no_answer:
            ring_ms = str(int(self.ring * 1000))
            ami.emit("AgentRingNoAnswer", "agent,all", [*chan, *dest(False), *who, ("RingTime", ring_ms)])
            ami.set_status(queue, member, 1)
            return False
        hold = int(time.time() - caller.joined)
        self._leave(queue, state, caller, chan, abandon=False)  # Asterisk: QueueCallerLeave, then AgentConnect
        ami.emit(
            "AgentConnect",
            "agent,all",
            [*chan, *dest(True), *who, ("HoldTime", str(hold)), ("RingTime", str(int(self.ring)))],
        )
        ami.set_status(queue, member, 2, in_call=True)
        start = time.time()
        await asyncio.sleep(self.rng.uniform(*self.talk))
        end = time.time()
        talk = int(end - start)
        # The phone's half of the Local channel ends first, with a Cdr of its own: a leg inside the PBX.
        ami.emit_cdr(
            uniqueid=leg_id,
            source=caller.number,
            caller_id=f'"{caller.name}" <{caller.number}>',
            destination=extension,
            context="agent-phones",
            channel=f"{local};2",
            dest_channel="",
            application="Hangup",
            data="",
            start=called,
            answer=start,
            end=end,
        )
        member.calls_taken += 1
        member.last_call = int(end)
        state.completed += 1
        ami.set_status(queue, member, 1, in_call=False)
        ami.emit(
            "AgentComplete",
            "agent,all",
            [
                *chan,
                *dest(True),
                *who,
                ("HoldTime", str(hold)),
                ("TalkTime", str(talk)),
                ("Reason", self.rng.choice(["agent", "caller"])),
            ],
        )
        self._caller_cdr(queue, caller, f"{local};1", end)
        return True

    # ---- FreeSWITCH ----------------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    async def esl_call(self, queue: str) -> None:
        """A caller in a mod_callcenter queue on a loopback channel (as recorded, `loopback/9999-a`) whose
        Unique-ID is the member session UUID; an answering agent's phone is a sofia channel."""
        esl, rng = self.esl, self.rng
        session = self._uuid()
        number = f"07{rng.randint(10_000_000, 99_999_999)}"
        call = CcCall(queue, self._uuid(), session, "Customer", number)
        extension = queue.partition("@")[0]
        caller = Leg("member", session, f"loopback/{extension}-a", "mod_loopback", extension, time.time())
        caller.answer = caller.start  # mod_callcenter answers the caller on entering the queue
        joined = int(caller.start)
        member = [
            ("CC-Queue", queue),
            ("CC-Member-UUID", call.member_uuid),
            ("CC-Member-Session-UUID", session),
            ("CC-Member-CID-Name", call.cid_name),
            ("CC-Member-CID-Number", number),
        ]
        esl.emit([("CC-Queue", queue), ("CC-Action", "member-queue-start"), *member[1:]])
        deadline = time.monotonic() + rng.uniform(*self.patience)
        while time.monotonic() < deadline:
            agents = [esl.agents[a] for (q, a) in esl.tiers if q == queue and a in esl.agents]
            free = [a for a in agents if a.status == "Available" and a.state == "Waiting"]
            if free:
                agent = rng.choice(free)
                call.agent = agent.name
                phone = agent.name.partition("@")[0]
                leg = Leg("agent", self._uuid(), f"sofia/internal/{phone}@127.0.0.1", "mod_sofia", phone, time.time())
                esl.set_state(agent, "Receiving")
                esl.emit(
                    [
                        ("CC-Queue", queue),
                        ("CC-Action", "agent-offering"),
                        ("CC-Agent", agent.name),
                        ("CC-Agent-Type", "callback"),
                        ("CC-Agent-System", "single_box"),
                        *member[1:],
                    ]
                )
                await asyncio.sleep(self.ring)
                leg.answer = time.time()
                answered = int(leg.answer)
                times = [
                    ("CC-Agent-Called-Time", str(int(leg.start))),
                    ("CC-Agent-Answered-Time", str(answered)),
                    ("CC-Member-Joined-Time", str(joined)),
                ]
                esl.emit(
                    [
                        ("CC-Queue", queue),
                        ("CC-Action", "bridge-agent-start"),
                        ("CC-Agent", agent.name),
                        ("CC-Agent-System", "single_box"),
                        *times,
                        *member[1:],
                    ]
                )
                esl.set_state(agent, "In a queue call")
                agent.last_bridge_start = answered
                await asyncio.sleep(rng.uniform(*self.talk))
                leg.end = caller.end = time.time()
                ended = int(leg.end)
                agent.calls_answered += 1
                agent.last_bridge_end = ended
                agent.talk_time += ended - answered
                esl.emit(
                    [
                        ("CC-Queue", queue),
                        ("CC-Action", "bridge-agent-end"),
                        ("CC-Hangup-Cause", "SUCCESS"),
                        ("CC-Agent", agent.name),
                        ("CC-Agent-System", "single_box"),
                        ("CC-Agent-Bridged", "true"),
                        *times,
                        ("CC-Bridge-Terminated-Time", str(ended)),
                        *member[1:],
                    ]
                )
                esl.emit(
                    [
                        ("CC-Queue", queue),
                        ("CC-Action", "member-queue-end"),
                        ("CC-Hangup-Cause", "SUCCESS"),
                        ("CC-Cause", "Terminated"),
                        ("CC-Agent", agent.name),
                        *times,
                        ("CC-Member-Leaving-Time", str(ended)),
                        *member[1:],
                    ]
                )
                # As recorded: the agent's channel ends with the bridge, the caller's just after.
                esl.hangup(leg, call, other=caller)
                esl.hangup(caller, call, other=leg)
                esl.set_state(agent, "Waiting")
                return
            await asyncio.sleep(0.5)
        caller.end = time.time()
        esl.emit(
            [
                ("CC-Queue", queue),
                ("CC-Action", "member-queue-end"),
                ("CC-Cause", "Cancel"),
                ("CC-Cancel-Reason", "BREAK_OUT"),
                ("CC-Member-Leaving-Time", str(int(caller.end))),
                ("CC-Member-Joined-Time", str(joined)),
                *member[1:],
            ]
        )
        esl.hangup(caller, call)
