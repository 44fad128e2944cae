"""Supervisors read every conversation and delivery report, send as anyone, and manage the provider's settings."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = [
    "view_message",
    "add_message",
    "view_deliveryreport",
    "view_providersettings",
    "add_providersettings",
    "change_providersettings",
    "delete_providersettings",
]


def forwards(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    supervisors, _ = Group.objects.get_or_create(name="Supervisors")
    supervisors.permissions.add(*Permission.objects.filter(content_type__app_label="sms", codename__in=CODENAMES))


def backwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name="Supervisors"):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="sms", codename__in=CODENAMES))


class Migration(migrations.Migration):
    dependencies = [("sms", "0001_initial"), ("agents", "0009_agent_default_did")]

    operations = [migrations.RunPython(forwards, backwards)]
