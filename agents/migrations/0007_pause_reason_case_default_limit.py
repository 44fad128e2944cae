"""Pause reasons: unique whatever the letter case, an explicit default, allowed minutes.

Names that differ only by letter case are merged into the oldest one before
the constraint is added (agents on a merged reason move to the one kept), and
each merge is printed. The first active reason in display order, which was
the default until now, is marked as the default.
"""

import django.db.models.functions.text
from django.db import migrations, models


def merge_case_clashes_and_mark_default(apps, schema_editor):
    PauseReason = apps.get_model("agents", "PauseReason")
    Agent = apps.get_model("agents", "Agent")
    kept: dict[str, object] = {}
    for reason in PauseReason.objects.order_by("pk"):
        key = reason.name.casefold()
        if key not in kept:
            kept[key] = reason
            continue
        keep = kept[key]
        moved = Agent.objects.filter(pause_reason=reason).update(pause_reason=keep)
        print(f"\n  Pause reason “{reason.name}” merged into “{keep.name}” ({moved} agent(s) moved).", end="")
        if reason.active and not keep.active:
            keep.active = True
            keep.save(update_fields=["active"])
        reason.delete()
    first = PauseReason.objects.filter(active=True).order_by("display_order", "name").first()
    if first is not None:
        first.is_default = True
        first.save(update_fields=["is_default"])


class Migration(migrations.Migration):

    dependencies = [
        ('agents', '0006_supervisors_revoke_tokens'),
    ]

    operations = [
        migrations.AddField(
            model_name='pausereason',
            name='is_default',
            field=models.BooleanField(default=False, help_text='Used when a break is asked for without a reason (one reason at most).', verbose_name='default'),
        ),
        migrations.AddField(
            model_name='pausereason',
            name='max_minutes',
            field=models.PositiveSmallIntegerField(blank=True, help_text='A longer break is flagged on the team board.', null=True, verbose_name='allowed minutes'),
        ),
        migrations.AlterField(
            model_name='pausereason',
            name='active',
            field=models.BooleanField(default=True, help_text='Offered to agents. Reasons the PBX made up start inactive.'),
        ),
        migrations.AlterField(
            model_name='pausereason',
            name='display_order',
            field=models.PositiveSmallIntegerField(blank=True, help_text='Leave empty to put it last.'),
        ),
        migrations.RunPython(merge_case_clashes_and_mark_default, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='pausereason',
            constraint=models.UniqueConstraint(django.db.models.functions.text.Lower('name'), name='pausereason_name_unique_any_case'),
        ),
        migrations.AddConstraint(
            model_name='pausereason',
            constraint=models.UniqueConstraint(condition=models.Q(('is_default', True)), fields=('is_default',), name='pausereason_one_default'),
        ),
    ]
