"""Supervisors read the reports: the queue calls, their ring attempts and the CDRs (`reporting.view_queuecall`
opens /reports/, the wallboard and /api/reports/)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ["view_queuecall", "view_callattempt", "view_cdr"]


def forwards(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    supervisors, _ = Group.objects.get_or_create(name="Supervisors")
    supervisors.permissions.add(*Permission.objects.filter(content_type__app_label="reporting", codename__in=CODENAMES))


def backwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name="Supervisors"):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="reporting", codename__in=CODENAMES))


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0001_initial"),
        ("agents", "0007_pause_reason_case_default_limit"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
