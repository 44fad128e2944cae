"""Supervisors may list and revoke the API tokens of the users they manage (the admin narrows which)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ["view_authtoken", "delete_authtoken"]


def forwards(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    supervisors, _ = Group.objects.get_or_create(name="Supervisors")
    supervisors.permissions.add(*Permission.objects.filter(content_type__app_label="knox", codename__in=CODENAMES))


def backwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name="Supervisors"):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="knox", codename__in=CODENAMES))


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0005_status_sessions_history"),
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
