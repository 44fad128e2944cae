"""Supervisors manage trunks, routes and DIDs, and see and place click-to-calls. DIDs typed before numbers were
read with phonenumbers are rewritten in the one form kept now (telephony.phone), where that form is free."""

from django.contrib.auth.management import create_permissions
from django.core.exceptions import ValidationError
from django.db import migrations

PERMISSIONS = {"trunk": "acdv", "prefixroute": "acdv", "outboundroute": "acdv", "inboundroute": "acdv", "callrequest": "av"}
ACTIONS = {"a": "add", "c": "change", "d": "delete", "v": "view"}


def codenames():
    return [f"{ACTIONS[a]}_{model}" for model, actions in PERMISSIONS.items() for a in actions]


def forwards(apps, schema_editor):
    from telephony.phone import dialable

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    supervisors, _ = Group.objects.get_or_create(name="Supervisors")
    supervisors.permissions.add(
        *Permission.objects.filter(content_type__app_label="telephony", codename__in=codenames())
    )
    Did = apps.get_model("telephony", "Did")
    for did in Did.objects.all():
        try:
            number = dialable(did.number, "DID")
        except ValidationError:
            continue
        if number != did.number and not Did.objects.filter(number=number).exists():
            Did.objects.filter(pk=did.pk).update(number=number)


def backwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name="Supervisors"):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="telephony", codename__in=codenames())
        )


class Migration(migrations.Migration):
    dependencies = [("telephony", "0006_routing_and_click_to_call")]

    operations = [migrations.RunPython(forwards, backwards)]
