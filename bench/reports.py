"""Reports: how long do the queue summaries take over a year of calls?

Data: 1,000,000 queue calls and 2,000,000 CDRs spread over the last 365 days on the PBX "bench-reports"
(`manage.py generate_calls`), made on the first run and kept for the next ones. Figures, p50/p99 of 30 runs
after a warm-up: `queue_figures` for this month and one queue (the busiest); for this month and every queue,
with their total; the same two for last month, a full one. Floor: a bare `SELECT COUNT(*)` over the same rows
(the same entered_at range and queue filter), timed in the same runs, turn about with the figure.

    python bench/reports.py [--runs 30]     (uses DATABASE_URL like the app)
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mayday.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Max  # noqa: E402

from bench.common import fmt, pct  # noqa: E402
from reporting.models import Cdr, QueueCall  # noqa: E402
from reporting.periods import Period, period  # noqa: E402
from reporting.selectors import queue_figures, total  # noqa: E402
from telephony.models import PbxServer, Queue  # noqa: E402

PBX = "bench-reports"
CALLS, CDRS = 1_000_000, 2_000_000
TARGET_MS = 300
WARM_UP = 3


def ensure_data() -> tuple[PbxServer, str]:
    """The calls, generated only when missing, incomplete or too old to reach into this month."""
    pbx = PbxServer.objects.filter(name=PBX).first()
    if pbx is not None:
        calls = QueueCall.objects.filter(pbx=pbx)
        newest = calls.aggregate(newest=Max("entered_at"))["newest"]
        fresh = newest is not None and newest >= period("month").start
        if fresh and calls.count() == CALLS and Cdr.objects.filter(pbx=pbx).count() == CDRS:
            return pbx, "already there"
    print(f"reports: generating {CALLS:,} queue calls and {CDRS:,} CDRs on {PBX} (once; a few minutes)", flush=True)
    start = time.perf_counter()
    call_command("generate_calls", pbx=PBX, calls=CALLS, cdrs=CDRS, replace=True, stdout=io.StringIO())
    return PbxServer.objects.get(name=PBX), f"generated in {time.perf_counter() - start:.0f} s"


def bare_count(start, end, queue_ids: list[int] | None) -> int:
    adapt = connection.ops.adapt_datetimefield_value
    sql = f"SELECT COUNT(*) FROM {QueueCall._meta.db_table} WHERE entered_at >= %s AND entered_at < %s"
    params = [adapt(start), adapt(end)]
    if queue_ids is not None:
        sql += f" AND queue_id IN ({', '.join(['%s'] * len(queue_ids))})"
        params += queue_ids
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def figures(span: Period, queue_ids: list[int] | None):
    rows = queue_figures(start=span.start, end=span.end, queue_ids=queue_ids)
    return rows if queue_ids else total(rows)


def measure(span: Period, queue_ids: list[int] | None, runs: int) -> tuple[list[float], list[float], int]:
    """The figure and its floor, taking turns run by run so both see the same load."""
    times, floor = [], []
    for i in range(WARM_UP + runs):
        start = time.perf_counter()
        figures(span, queue_ids)
        middle = time.perf_counter()
        rows = bare_count(span.start, span.end, queue_ids)
        end = time.perf_counter()
        if i >= WARM_UP:
            times.append(middle - start)
            floor.append(end - middle)
    return times, floor, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    pbx, how = ensure_data()
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"reports: {CALLS:,} queue calls and {CDRS:,} CDRs on {PBX} ({how}); database {engine}")
    busiest = Queue.objects.filter(pbx=pbx).order_by("pk").first()
    this_month = period("month")
    last_day = this_month.first - timedelta(days=1)
    last_month = period("custom", first=last_day.replace(day=1), last=last_day)
    cases = [
        ("this month", this_month, busiest),
        ("this month", this_month, None),
        ("last month", last_month, busiest),
        ("last month", last_month, None),
    ]
    for name, span, queue in cases:
        ids = [queue.pk] if queue else None
        times, floor, rows = measure(span, ids, args.runs)
        which = f"queue {queue.name}" if queue else "all queues + total"
        verdict = "met" if pct(times, 0.99) < TARGET_MS else "MISSED"
        print(
            f"  {name} ({span}), {which}, {rows:,} calls: {fmt(times)} "
            f"| floor (bare COUNT(*) of the same rows): {fmt(floor)} "
            f"| ratio {pct(times, 0.5) / pct(floor, 0.5):5.1f}x | target p99 < {TARGET_MS} ms: {verdict}"
        )


if __name__ == "__main__":
    main()
