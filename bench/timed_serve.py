"""`manage.py serve` for the status benchmark, timing each password check inside the web process.

Each check's duration (seconds) is appended as a line to the file named by MAYDAY_BENCH_HASH_LOG, so the
benchmark can subtract from every sign-in the check made inside that very request: what is left is Mayday's
own work, and it cannot come out negative.

    python bench/timed_serve.py --port 8000
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mayday.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import base_user  # noqa: E402
from django.core.management import call_command  # noqa: E402

LOG = os.environ["MAYDAY_BENCH_HASH_LOG"]
check_password = base_user.check_password  # what AbstractBaseUser.check_password calls


def timed_check(*args, **kwargs):
    start = time.perf_counter()
    try:
        return check_password(*args, **kwargs)
    finally:
        with open(LOG, "a") as log:
            log.write(f"{time.perf_counter() - start}\n")


base_user.check_password = timed_check

if __name__ == "__main__":
    port = sys.argv[sys.argv.index("--port") + 1]
    call_command("serve", port=int(port))
