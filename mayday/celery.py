"""The Celery app: configuration comes from Django settings (the CELERY_ prefix)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mayday.settings")

app = Celery("mayday")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
