"""Scripted life for the simulator: callers join queues, members ring, talk or miss, callers give up,
phones register and drop. Event order and fields follow the recorded answered/abandoned calls."""

from __future__ import annotations

import asyncio
import random
import time

from telephony.simulator.ami import AmiServer, Caller, Member
from telephony.simulator.esl import EslServer


def _channel(prefix: str, channel: str, uniqueid: str, number: str, name: str, context: str, exten: str) -> list:
    return [
        (f"{prefix}Channel", channel),
        (f"{prefix}ChannelState", "6"),
        (f"{prefix}ChannelStateDesc", "Up"),
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
        (f"{prefix}Linkedid", uniqueid),
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
    ):
        self.ami, self.esl = ami, esl
        self.rate, self.ring, self.talk, self.patience = rate, ring, talk, patience
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
        caller = Caller(f"Local/s@caller-{uniqueid.replace('.', '')};1", uniqueid, number, "Customer")
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
            ami_hold = str(int(time.time() - caller.joined))
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

    async def _ring_and_talk(self, queue: str, state, caller: Caller, chan: list, member: Member) -> bool:
        ami = self.ami
        dest_id = ami.uniqueid()
        dest = _channel(
            "Dest",
            f"{member.interface}-{dest_id.replace('.', '')};1",
            dest_id,
            caller.number,
            caller.name,
            "agents",
            queue,
        )
        who = [("Queue", queue), ("Interface", member.interface), ("MemberName", member.name)]
        ami.emit("AgentCalled", "agent,all", [*chan, *dest, *who])
        ami.set_status(queue, member, 6)
        await asyncio.sleep(self.ring)
        if member.paused or member.interface not in state.members or self.rng.random() < 0.15:
            ami.emit("AgentRingNoAnswer", "agent,all", [*chan, *dest, *who, ("RingTime", str(int(self.ring * 1000)))])
            ami.set_status(queue, member, 1)
            return False
        hold = int(time.time() - caller.joined)
        self._leave(queue, state, caller, chan, abandon=False)  # Asterisk: QueueCallerLeave, then AgentConnect
        ami.emit(
            "AgentConnect",
            "agent,all",
            [*chan, *dest, *who, ("HoldTime", str(hold)), ("RingTime", str(int(self.ring)))],
        )
        ami.set_status(queue, member, 2, in_call=True)
        start = time.time()
        await asyncio.sleep(self.rng.uniform(*self.talk))
        talk = int(time.time() - start)
        member.calls_taken += 1
        member.last_call = int(time.time())
        state.completed += 1
        ami.set_status(queue, member, 1, in_call=False)
        ami.emit(
            "AgentComplete",
            "agent,all",
            [
                *chan,
                *dest,
                *who,
                ("HoldTime", str(hold)),
                ("TalkTime", str(talk)),
                ("Reason", self.rng.choice(["agent", "caller"])),
            ],
        )
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start))
        ami.emit(
            "Cdr",
            "cdr,all",
            [
                ("AccountCode", ""),
                ("Source", caller.number),
                ("Destination", queue),
                ("DestinationContext", "from-pstn"),
                ("CallerID", f'"{caller.name}" <{caller.number}>'),
                ("Channel", caller.channel),
                ("DestinationChannel", dest[0][1]),
                ("LastApplication", "Queue"),
                ("LastData", queue),
                ("StartTime", stamp),
                ("AnswerTime", stamp),
                ("EndTime", time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())),
                ("Duration", str(hold + talk)),
                ("BillableSeconds", str(talk)),
                ("Disposition", "ANSWERED"),
                ("AMAFlags", "DOCUMENTATION"),
                ("UniqueID", caller.uniqueid),
                ("UserField", ""),
            ],
        )
        return True

    # ---- FreeSWITCH ----------------------------------------------------------------------------

    async def esl_call(self, queue: str) -> None:
        esl, rng = self.esl, self.rng
        session = f"{rng.getrandbits(64):016x}-sim"
        number = f"07{rng.randint(10_000_000, 99_999_999)}"
        joined = int(time.time())
        member = [
            ("CC-Queue", queue),
            ("CC-Member-UUID", f"m-{session}"),
            ("CC-Member-Session-UUID", session),
            ("CC-Member-CID-Name", "Customer"),
            ("CC-Member-CID-Number", number),
        ]
        esl.emit([("CC-Queue", queue), ("CC-Action", "member-queue-start"), *member[1:]])
        deadline = time.monotonic() + rng.uniform(*self.patience)
        while time.monotonic() < deadline:
            agents = [esl.agents[a] for (q, a) in esl.tiers if q == queue and a in esl.agents]
            free = [a for a in agents if a.status == "Available" and a.state == "Waiting"]
            if free:
                agent = rng.choice(free)
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
                called = int(time.time())
                await asyncio.sleep(self.ring)
                answered = int(time.time())
                times = [
                    ("CC-Agent-Called-Time", str(called)),
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
                ended = int(time.time())
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
                esl.set_state(agent, "Waiting")
                return
            await asyncio.sleep(0.5)
        esl.emit(
            [
                ("CC-Queue", queue),
                ("CC-Action", "member-queue-end"),
                ("CC-Cause", "Cancel"),
                ("CC-Cancel-Reason", "BREAK_OUT"),
                ("CC-Member-Leaving-Time", str(int(time.time()))),
                ("CC-Member-Joined-Time", str(joined)),
                *member[1:],
            ]
        )
