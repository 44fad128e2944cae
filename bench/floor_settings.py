"""Mayday's settings with one more URL, for the benchmarks' floor: the app's own URLs plus a bare view
(bench/floor_urls.py). The app's URLs are left as they are; only a server started with
DJANGO_SETTINGS_MODULE=bench.floor_settings has the extra one."""

from mayday.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
