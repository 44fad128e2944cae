# Mayday: `make run` to try it, `make test` to prove it.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready
HOST ?= 127.0.0.1
PORT ?= 8000
SERVICES_ENV := DATABASE_URL=mysql://root@127.0.0.1:3306/mayday_test REDIS_URL=redis://127.0.0.1:6379/1 CELERY_TASK_ALWAYS_EAGER=true
TEST_ENV := DJANGO_SECRET_KEY=test-only-secret-key-not-for-production-0123456789abcdef

.PHONY: setup run test test-services lint format bench clean

setup: $(READY)

# System packages: the C library mysqlclient builds against, and venv support.
$(READY): requirements.txt requirements-dev.txt
	@sh scripts/system-packages.sh $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# The demo: the PBX simulator runs beside the web process (which follows it) and stops with it (Ctrl-C).
# The demo's SMS provider: the bundled stand-in gateway, reporting deliveries back to this site.
DEMO_SMS := MAYDAY_SMS_URL=http://127.0.0.1:15080/secure MAYDAY_SMS_USERNAME=mayday MAYDAY_SMS_PASSWORD=mayday \
	MAYDAY_SMS_SENDER=Mayday MAYDAY_SMS_DLR_URL=http://$(HOST):$(PORT)/api/sms/dlr MAYDAY_SMS_WEBHOOK_TOKEN=demo-webhook-token

run: $(READY)
	DJANGO_DEBUG=true $(BIN)/python manage.py migrate --noinput
	DJANGO_DEBUG=true $(BIN)/python manage.py seed_demo
	@echo ""
	@echo "Mayday is at http://$(HOST):$(PORT)/  (admin: http://$(HOST):$(PORT)/admin/, API: http://$(HOST):$(PORT)/api/)"
	@export DJANGO_DEBUG=true $(DEMO_SMS); trap 'kill 0' EXIT INT TERM; \
	$(BIN)/python manage.py pbx_simulator --ami 127.0.0.1:15038 --esl 127.0.0.1:18021 & \
	$(BIN)/python manage.py sms_simulator --listen 127.0.0.1:15080 & \
	sleep 1; $(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

test: $(READY)
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS)

# MariaDB needs its time-zone tables for the admin's date filters (CONVERT_TZ); loading them is idempotent.
test-services: $(READY)
	mysql_tzinfo_to_sql /usr/share/zoneinfo 2>/dev/null | mariadb -uroot mysql
	$(TEST_ENV) $(SERVICES_ENV) $(BIN)/pytest $(PYTEST_ARGS)

# Benchmarks print each figure beside its floor (the bare protocol or database in the same run).
# Debug off, as in production (debug keeps every query in memory).
# The sign-in and API write limits would throttle the benchmark's own load: lifted for it.
BENCH_ENV := MAYDAY_LOG_LEVEL=WARNING DJANGO_SECRET_KEY=bench-only-secret-key-not-for-production-0123456789 \
	MAYDAY_SIGNIN_RATE=100000/min MAYDAY_API_WRITE_RATE=100000/min
BENCH_EMBEDDED := $(BENCH_ENV) DATABASE_URL=sqlite:///$(CURDIR)/bench.sqlite3
BENCH_SERVICES := $(BENCH_ENV) DATABASE_URL=mysql://root@127.0.0.1:3306/mayday_bench \
	REDIS_URL=redis://127.0.0.1:6379/2 CELERY_TASK_ALWAYS_EAGER=true

# Reports run on MariaDB only, over a million generated calls kept in their own database between runs; the
# figures convert to local time in the database, so the time-zone tables are loaded as for test-services.
BENCH_REPORTS := $(BENCH_ENV) DATABASE_URL=mysql://root@127.0.0.1:3306/mayday_bench_reports

bench: $(READY)
	mariadb -uroot -e "CREATE DATABASE IF NOT EXISTS mayday_bench CHARACTER SET utf8mb4"
	mariadb -uroot -e "CREATE DATABASE IF NOT EXISTS mayday_bench_reports CHARACTER SET utf8mb4"
	mariadb -uroot -e "CREATE DATABASE IF NOT EXISTS mayday_bench_sms CHARACTER SET utf8mb4"
	mysql_tzinfo_to_sql /usr/share/zoneinfo 2>/dev/null | mariadb -uroot mysql
	$(BENCH_EMBEDDED) $(BIN)/python bench/ingest.py
	$(BENCH_SERVICES) $(BIN)/python bench/ingest.py
	$(BENCH_EMBEDDED) $(BIN)/python bench/status.py
	$(BENCH_SERVICES) $(BIN)/python bench/status.py
	$(BENCH_REPORTS) $(BIN)/python bench/reports.py
	$(BENCH_ENV) DATABASE_URL=mysql://root@127.0.0.1:3306/mayday_bench_sms REDIS_URL=redis://127.0.0.1:6379/3 \
		$(BIN)/python bench/sms.py

lint: $(READY)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(READY)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache
