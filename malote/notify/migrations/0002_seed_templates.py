"""Seed one EmailTemplate per customer status from the shipped defaults.

The texts come from ``malote.notify.defaults`` in the installation's language (pt-BR unless
LANGUAGE_CODE is English), so a fresh install gets the current defaults; rows that already
exist (edited by an operator) are left alone.
"""

from django.conf import settings
from django.db import migrations


def seed(apps, schema_editor):
    from malote.notify.defaults import defaults_for

    EmailTemplate = apps.get_model("notify", "EmailTemplate")
    for status, text in defaults_for(settings.LANGUAGE_CODE).items():
        EmailTemplate.objects.get_or_create(
            status=status, defaults={"subject": text.subject, "body": text.body, "enabled": text.enabled}
        )


class Migration(migrations.Migration):

    dependencies = [
        ("notify", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
