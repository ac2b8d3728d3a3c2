"""``IdempotencyRecord.started_at`` (lease and lifetime) and ``attempt`` (takeover counter).

Rows written before this migration start their lifetime when they were created, so a record left
"in progress" by a dead request before the upgrade can be taken over at once."""

from typing import Any

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F


def started_when_created(apps: Any, schema_editor: Any) -> None:
    record = apps.get_model("accounts", "IdempotencyRecord")
    record.objects.using(schema_editor.connection.alias).update(started_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_cache_table")]

    operations = [
        migrations.AddField(
            model_name="idempotencyrecord",
            name="attempt",
            field=models.PositiveIntegerField(default=1),
        ),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="started_at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
        migrations.RunPython(started_when_created, migrations.RunPython.noop),
    ]
