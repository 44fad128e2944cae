"""Made-up call history for one PBX: queue calls and CDRs spread like a real call center's, for load tests,
benchmarks and demos. Rows go in by multi-row INSERTs, thousands at a time: a million calls take minutes."""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from agents.models import AGENTS_GROUP, Agent
from reporting.models import CallAttempt, Cdr, Disposition, Outcome, QueueCall, Source
from telephony.models import STRATEGIES, PbxKind, PbxServer, Queue, QueueMembership
from telephony.validators import validate_name

BATCH = 5000
QUEUE_NAMES = ["support", "sales", "billing", "technical", "orders", "retention", "vip", "callback"]
FIRST_NAMES = ["Amina", "Brian", "Grace", "David", "Faith", "Samuel", "Joy", "Kevin", "Mercy", "Peter", "Ruth", "Tom"]
LAST_NAMES = ["Wanjiru", "Otieno", "Achieng", "Kamau", "Njeri", "Mwangi", "Chebet", "Kiprop", "Mutua", "Wambui"]
# Relative calls per local hour of a weekday (00-23): a morning and an afternoon peak, a quiet night.
HOURS = [0.6, 0.3, 0.2, 0.2, 0.3, 0.8, 2.5, 7, 13, 17, 18, 16, 12, 13, 16, 16, 14, 10, 6, 4, 3, 2.2, 1.5, 1]
WEEKDAYS = [1.0, 0.95, 0.95, 0.95, 0.9, 0.45, 0.2]  # Monday to Sunday
OUTCOME_NAMES = [Outcome.ANSWERED, Outcome.ABANDONED, Outcome.TIMED_OUT, Outcome.EXITED]
OUTCOME_WEIGHTS = [85, 10, 3, 2]
QUEUE_TIMEOUT = 300  # seconds before the queue sends a caller on
RING_TIMEOUT = 15  # seconds a member's phone rings before the queue tries another
TALK_MEDIAN = 180  # log-normal talk time: median 3 min, mean about 3.6 min
TALK_SIGMA = 0.6
# A rung phone that did not answer: its disposition and hangup cause, and how often.
LEG_FAILURES = [
    (Disposition.NO_ANSWER, "NO_ANSWER"),
    (Disposition.BUSY, "USER_BUSY"),
    (Disposition.FAILED, "UNALLOCATED"),
    (Disposition.CONGESTION, "CONGESTION"),
]
LEG_FAILURE_WEIGHTS = [80, 12, 5, 3]
MAX_LEGS = 4  # CDRs of one call at most (its own and three agent legs)
EPOCH = datetime(1970, 1, 1)
TIMES = {"entered_at", "answered_at", "ended_at", "updated_at", "start", "answer", "end"}

CALL_COLUMNS = [
    "pbx_id",
    "queue_id",
    "queue_name",
    "call_id",
    "caller_number",
    "caller_name",
    "entered_at",
    "position",
    "outcome",
    "exit_reason",
    "wait_seconds",
    "answered_at",
    "agent_id",
    "agent_extension",
    "ring_seconds",
    "talk_seconds",
    "ended_at",
    "hangup_by",
    "ring_no_answers",
    "source",
    "updated_at",
]
CDR_COLUMNS = [
    "pbx_id",
    "call_id",
    "source",
    "destination",
    "destination_context",
    "caller_id",
    "channel",
    "destination_channel",
    "last_application",
    "start",
    "answer",
    "end",
    "duration",
    "billable_seconds",
    "disposition",
    "hangup_cause",
    "account_code",
    "internal",
]


def _sql_time(epoch: int | None) -> str | None:
    """UTC as the database keeps it (naive), in the text both MySQL and SQLite take."""
    return None if epoch is None else str(EPOCH + timedelta(seconds=epoch))


def _insert_sql(model, columns: list[str]) -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    return f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES ({marks})"  # noqa: S608 (names from the model)


class Command(BaseCommand):
    help = "Fill a PBX with made-up queue calls and CDRs (creating the PBX, its queues and agents if missing)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--pbx", required=True, help="PBX server name (an Asterisk server is created if missing).")
        parser.add_argument("--calls", type=int, default=1_000_000, help="Queue calls to make.")
        parser.add_argument("--cdrs", type=int, default=2_000_000, help="CDRs to make (about two per call).")
        parser.add_argument("--days", type=int, default=365, help="Spread the calls over the last this many days.")
        parser.add_argument("--queues", type=int, default=8)
        parser.add_argument("--agents", type=int, default=200)
        parser.add_argument("--seed", type=int, default=1, help="The same seed makes the same calls.")
        parser.add_argument("--replace", action="store_true", help="Delete the PBX's calls and CDRs first.")

    def handle(self, *args, pbx: str, calls: int, cdrs: int, days: int, queues: int, agents: int, **options):
        if min(calls, cdrs) < 0 or min(days, queues, agents) < 1:
            raise CommandError("--calls and --cdrs must be 0 or more; --days, --queues and --agents at least 1.")
        try:
            validate_name(pbx)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from None
        started = time.monotonic()
        server = PbxServer.objects.filter(name=pbx).first()
        if server is None:
            # Made-up history only: disabled, so no listener tries to reach it.
            server = PbxServer.objects.create(
                name=pbx, kind=PbxKind.ASTERISK, host="127.0.0.1", username="mayday", enabled=False
            )
        had = QueueCall.objects.filter(pbx=server).count(), Cdr.objects.filter(pbx=server).count()
        if any(had) and not options["replace"]:
            raise CommandError(
                f"PBX {pbx} already has {had[0]} queue calls and {had[1]} CDRs: "
                "run again with --replace to delete them and generate new ones."
            )
        if any(had):
            self._delete(server)
        rng = random.Random(options["seed"])  # noqa: S311 (made-up data, not secrets)
        with transaction.atomic():
            queue_rows = self._queues(server, queues)
            members = self._agents(server, agents, queue_rows, rng)
        made = self._fill(server, queue_rows, members, rng, calls, cdrs, days)
        self.stdout.write(
            f"Generated {made[0]} queue calls and {made[1]} CDRs over {days} days for PBX {pbx} "
            f"({len(queue_rows)} queues, {agents} agents) in {time.monotonic() - started:.0f} s."
        )

    def _delete(self, server: PbxServer) -> None:
        CallAttempt.objects.filter(call__pbx=server).delete()
        step = 50_000
        for model in (QueueCall, Cdr):
            span = model.objects.filter(pbx=server).aggregate(lo=Min("pk"), hi=Max("pk"))
            table = connection.ops.quote_name(model._meta.db_table)
            sql = f"DELETE FROM {table} WHERE pbx_id = %s AND id >= %s AND id < %s"  # noqa: S608 (the model's table)
            for lo in range(span["lo"] or 0, (span["hi"] or -1) + 1, step):
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(sql, [server.pk, lo, lo + step])

    def _queues(self, server: PbxServer, n: int) -> list[Queue]:
        queues = list(Queue.objects.filter(pbx=server).order_by("pk")[:n])
        taken = {q.name for q in queues}
        names = (name for name in QUEUE_NAMES + [f"queue{i}" for i in range(1, n + 1)] if name not in taken)
        while len(queues) < n:
            queues.append(Queue.objects.create(pbx=server, name=next(names), strategy=STRATEGIES[server.kind][0]))
        return queues

    def _agents(self, server: PbxServer, n: int, queues: list[Queue], rng: random.Random) -> dict[int, list[Agent]]:
        """The PBX's first n agents (created as needed, each with a user who cannot sign in until given a
        password), every one in a queue or two; bigger queues get more of them. Returns queue id: members."""
        agents = list(Agent.objects.filter(pbx=server).order_by("pk")[:n])
        missing = n - len(agents)
        if missing > 0:
            User = get_user_model()
            taken = set(Agent.objects.values_list("extension", flat=True))
            taken |= set(User.objects.values_list("username", flat=True))
            extensions, number = [], 5000
            while len(extensions) < missing:
                if str(number) not in taken:
                    extensions.append(str(number))
                number += 1
            names = {e: (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)) for e in extensions}
            User.objects.bulk_create(
                User(username=e, first_name=names[e][0], last_name=names[e][1], password=make_password(None))
                for e in extensions
            )
            users = User.objects.filter(username__in=extensions)
            group = Group.objects.get_or_create(name=AGENTS_GROUP)[0]
            User.groups.through.objects.bulk_create(User.groups.through(user=u, group=group) for u in users)
            Agent.objects.bulk_create(
                Agent(user=u, extension=u.username, display_name=" ".join(names[u.username]), pbx=server) for u in users
            )
            agents = list(Agent.objects.filter(pbx=server).order_by("pk")[:n])
        weights = _queue_weights(len(queues))
        joined = set(QueueMembership.objects.filter(queue__in=queues).values_list("agent_id", "queue_id"))
        new = []
        for i, agent in enumerate(agents):
            if any((agent.pk, q.pk) in joined for q in queues):
                continue
            home = queues[i] if i < len(queues) else rng.choices(queues, weights)[0]
            chosen = {home, rng.choices(queues, weights)[0]} if rng.random() < 0.3 else {home}
            new += [QueueMembership(agent=agent, queue=q) for q in chosen]
            joined |= {(agent.pk, q.pk) for q in chosen}
        QueueMembership.objects.bulk_create(new)
        by_id = {a.pk: a for a in agents}
        members: dict[int, list[Agent]] = {q.pk: [] for q in queues}
        for agent_id, queue_id in sorted(joined):
            if agent_id in by_id:
                members[queue_id].append(by_id[agent_id])
        for i, q in enumerate(queues):
            members[q.pk] = members[q.pk] or [agents[i % len(agents)]]
        return members

    def _fill(self, server, queues, members, rng, calls: int, cdrs: int, days: int) -> tuple[int, int]:
        """Calls newest first, so the few still open (no CDR yet) come first and older calls take their CDRs:
        the CDR count comes out exact."""
        now = int(timezone.now().timestamp())
        profiles = [(q, members[q.pk], rng.uniform(5, 12)) for q in queues]  # each queue its own mean wait
        weights = _queue_weights(len(queues))
        call_sql, cdr_sql = _insert_sql(QueueCall, CALL_COLUMNS), _insert_sql(Cdr, CDR_COLUMNS)
        fixed = {"pbx_id": server.pk, "source": Source.EVENTS, "updated_at": now}
        call_rows, cdr_rows = [], []
        seq, made, legs = 10_000, 0, 0
        for entered, waiting in _entries(rng, _hours(now - days * 86400, now), calls, now):
            made += 1
            queue, agents, mean_wait = rng.choices(profiles, weights)[0]
            call = _call(rng, entered, waiting, mean_wait, agents, now)
            call.update(fixed, queue_id=queue.pk, queue_name=queue.name, call_id=f"{entered}.{seq}")
            call_rows.append(tuple(_sql_time(call[c]) if c in TIMES else call[c] for c in CALL_COLUMNS))
            n = min(made * cdrs // calls - legs, MAX_LEGS) if call["ended_at"] is not None else 0
            if n > 0:
                cdr_rows += _cdrs(rng, call, agents, seq, n)
                legs += n
            seq += max(n, 1)
            if len(call_rows) >= BATCH or made == calls:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.executemany(call_sql, call_rows)
                    if cdr_rows:
                        cursor.executemany(cdr_sql, cdr_rows)
                call_rows, cdr_rows = [], []
        return made, legs


def _queue_weights(n: int) -> list[float]:
    """Queues of different sizes: the first gets the most calls, each next one fewer."""
    return [1 / (i + 1) ** 0.8 for i in range(n)]


def _hours(start: int, end: int) -> list[tuple[int, int, float]]:
    """The window cut at each UTC hour: (from, to, weight by local hour and weekday for the part inside)."""
    tz = timezone.get_current_timezone()
    slots = []
    lo = start
    while lo < end:
        hi = min(end, (lo // 3600 + 1) * 3600)
        local = datetime.fromtimestamp(lo, tz)
        slots.append((lo, hi, HOURS[local.hour] * WEEKDAYS[local.weekday()] * (hi - lo) / 3600))
        lo = hi
    return slots


def _entries(rng: random.Random, hours: list, calls: int, now: int):
    """(entry time, still waiting), newest first: a few callers waiting right now, then the rest by the hours."""
    still_waiting = min(3, calls // 100)
    yield from ((t, True) for t in sorted((now - rng.randint(5, 120) for _ in range(still_waiting)), reverse=True))
    cumulative, running = [], 0.0
    for _, _, weight in hours:
        running += weight
        cumulative.append(running)
    picks = Counter(rng.choices(range(len(hours)), cum_weights=cumulative, k=calls - still_waiting))
    for slot in range(len(hours) - 1, -1, -1):
        lo, hi, _ = hours[slot]
        yield from ((t, False) for t in sorted((rng.randint(lo, hi - 1) for _ in range(picks[slot])), reverse=True))


def _call(rng: random.Random, entered: int, waiting: bool, mean_wait: float, agents: list[Agent], now: int) -> dict:
    """One caller's stay in a queue (times as epoch seconds)."""
    outcome = Outcome.WAITING if waiting else rng.choices(OUTCOME_NAMES, OUTCOME_WEIGHTS)[0]
    call = {
        "entered_at": entered,
        "caller_number": f"07{rng.randrange(10**8):08d}",
        "caller_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}" if rng.random() < 0.3 else "",
        "position": 1 + int(rng.expovariate(1 / 1.5)),
        "outcome": outcome,
        "exit_reason": "",
        "wait_seconds": None,
        "answered_at": None,
        "agent": None,
        "ring_seconds": None,
        "talk_seconds": None,
        "ended_at": None,
        "hangup_by": "",
        "ring_no_answers": 0,
    }
    if outcome == Outcome.ANSWERED:
        misses = rng.choices((0, 1, 2, 3), (92, 6, 1.5, 0.5))[0]
        ring = rng.randint(1, 6)
        wait = ring + misses * RING_TIMEOUT + int(rng.expovariate(1 / mean_wait))
        talk = max(5, int(rng.lognormvariate(math.log(TALK_MEDIAN), TALK_SIGMA)))
        call.update(ring_no_answers=misses, ring_seconds=ring, wait_seconds=wait, talk_seconds=talk)
        call.update(answered_at=entered + wait, ended_at=entered + wait + talk, agent=rng.choice(agents))
        call["hangup_by"] = rng.choices(("caller", "agent", "transfer"), (48, 47, 5))[0]
    elif outcome == Outcome.ABANDONED:
        wait = rng.randint(0, 4) if rng.random() < 0.2 else 5 + int(rng.expovariate(1 / 60))
        call.update(wait_seconds=wait, ended_at=entered + wait, ring_no_answers=int(rng.random() < 0.08))
    elif outcome == Outcome.TIMED_OUT:
        wait = QUEUE_TIMEOUT + rng.randint(0, 2)
        call.update(wait_seconds=wait, ended_at=entered + wait, exit_reason="EXITWITHTIMEOUT")
        call["ring_no_answers"] = rng.randint(0, 3)
    elif outcome == Outcome.EXITED:
        wait, reason = (5 + int(rng.expovariate(1 / 40)), "EXITWITHKEY") if rng.random() < 0.6 else (0, "EXITEMPTY")
        call.update(wait_seconds=wait, ended_at=entered + wait, exit_reason=reason)
    if call["wait_seconds"] is not None and entered + call["wait_seconds"] > now:  # still in the queue now
        call.update(outcome=Outcome.WAITING, wait_seconds=None, answered_at=None, agent=None, ended_at=None)
        call.update(ring_seconds=None, talk_seconds=None, exit_reason="", hangup_by="")
    elif call["ended_at"] is not None and call["ended_at"] > now:  # on the phone now
        call.update(talk_seconds=None, ended_at=None, hangup_by="")
    agent = call["agent"]
    call["agent_id"], call["agent_extension"] = (agent.pk, agent.extension) if agent else (None, "")
    return call


def _cdrs(rng: random.Random, call: dict, agents: list[Agent], seq: int, n: int) -> list[tuple]:
    """The caller's own CDR, then n - 1 internal legs: the agents' phones the queue rang (Local ;2 halves), the
    answering one first. Channel ids go up from the call's own, as Asterisk's do."""
    entered, ended, answered, wait = call["entered_at"], call["ended_at"], call["answered_at"], call["wait_seconds"]
    number = call["caller_number"]
    caller_id = f'"{call["caller_name"]}" <{number}>' if call["caller_name"] else number
    begin = entered - rng.randint(0, 20)  # the greeting before the queue
    short = call["outcome"] == Outcome.ABANDONED and wait < 5  # hung up before the PBX answered
    pickup = None if short else begin
    first = call["agent"] or rng.choice(agents)
    own = {
        "call_id": call["call_id"],
        "destination": call["queue_name"],
        "destination_context": "from-pstn",
        "channel": f"PJSIP/trunk-{seq:08x}",
        "destination_channel": f"Local/{first.extension}@agent-phones-{seq + 1:08x};1" if n > 1 else "",
        "last_application": "Queue",
        "start": begin,
        "answer": pickup,
        "end": ended,
        "duration": ended - begin,
        "billable_seconds": 0 if pickup is None else ended - pickup,
        "disposition": Disposition.NO_ANSWER if short else Disposition.ANSWERED,
        "hangup_cause": "ORIGINATOR_CANCEL" if short else "NORMAL_CLEARING",
        "internal": False,
    }
    legs = [own]
    for j in range(1, n):
        phone = first if j == 1 else rng.choice(agents)
        if j == 1 and answered is not None:
            rang, up, down = answered - call["ring_seconds"], answered, ended
            disposition, cause = Disposition.ANSWERED, "NORMAL_CLEARING"
        else:
            rang = entered + rng.randint(0, max(wait, 1))
            up, down = None, max(rang, min(ended, rang + rng.randint(1, RING_TIMEOUT)))
            disposition, cause = rng.choices(LEG_FAILURES, LEG_FAILURE_WEIGHTS)[0]
        legs.append(
            {
                "call_id": f"{entered}.{seq + j}",
                "destination": phone.extension,
                "destination_context": "agent-phones",
                "channel": f"Local/{phone.extension}@agent-phones-{seq + j:08x};2",
                "destination_channel": f"PJSIP/{phone.extension}-{seq + j:08x}",
                "last_application": "Dial",
                "start": rang,
                "answer": up,
                "end": down,
                "duration": down - rang,
                "billable_seconds": 0 if up is None else down - up,
                "disposition": disposition,
                "hangup_cause": cause,
                "internal": True,
            }
        )
    common = {"pbx_id": call["pbx_id"], "source": number, "caller_id": caller_id, "account_code": ""}
    return [
        tuple(_sql_time(leg[c]) if c in TIMES else leg[c] for c in CDR_COLUMNS)
        for leg in ({**common, **x} for x in legs)
    ]
