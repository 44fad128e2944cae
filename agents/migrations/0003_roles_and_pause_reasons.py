"""Seed the two roles (Supervisors, Agents) and the usual pause reasons."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

REASONS = ["Break", "Lunch", "Training", "Meeting"]

# Supervisors run the floor: full control of agents, queues, memberships, reasons and
# DIDs; PBX servers are view-only (their secrets are never shown in any case).
SUPERVISOR_PERMISSIONS = {
    "agents": {"agent": "acdv", "pausereason": "acdv"},
    "telephony": {"queue": "acdv", "queuemembership": "acdv", "did": "acdv", "pbxserver": "v"},
}
ACTIONS = {"a": "add", "c": "change", "d": "delete", "v": "view"}


def forwards(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    supervisors, _ = Group.objects.get_or_create(name="Supervisors")
    Group.objects.get_or_create(name="Agents")
    codenames = [
        (app, f"{ACTIONS[a]}_{model}")
        for app, models in SUPERVISOR_PERMISSIONS.items()
        for model, actions in models.items()
        for a in actions
    ]
    for app, codename in codenames:
        supervisors.permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))

    PauseReason = apps.get_model("agents", "PauseReason")
    for order, name in enumerate(REASONS, start=1):
        PauseReason.objects.get_or_create(name=name, defaults={"display_order": order})


def backwards(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Supervisors", "Agents"]).delete()
    apps.get_model("agents", "PauseReason").objects.filter(name__in=REASONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0002_initial"),
        ("telephony", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
