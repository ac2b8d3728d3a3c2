"""Customer e-mails for returns: four templates (return_requested, return_authorized,
return_refused, return_refunded) and a sent log keyed per (return, step) for a return's e-mails,
per (order, status) for an order's (before: per (order, status) for every e-mail, so an order's
second return could never have been mailed).

The templates are seeded from ``malote.notify.defaults`` in the installation's language (pt-BR
unless LANGUAGE_CODE is English); rows that already exist are left alone.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def seed(apps, schema_editor):
    from malote.notify.defaults import return_defaults_for

    EmailTemplate = apps.get_model("notify", "EmailTemplate")
    for status, text in return_defaults_for(settings.LANGUAGE_CODE).items():
        EmailTemplate.objects.get_or_create(
            status=status, defaults={"subject": text.subject, "body": text.body, "enabled": text.enabled}
        )


def unseed(apps, schema_editor):
    EmailTemplate = apps.get_model("notify", "EmailTemplate")
    EmailTemplate.objects.filter(status__startswith="return_").delete()


class Migration(migrations.Migration):

    dependencies = [
        ('notify', '0004_store_number_in_templates'),
        ('returns', '0001_initial'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='sentemail',
            name='sent_email_once_per_status',
        ),
        migrations.AddField(
            model_name='sentemail',
            name='ret',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='sent_emails', to='returns.return'),
        ),
        migrations.AlterField(
            model_name='emailtemplate',
            name='status',
            field=models.CharField(choices=[('received', 'Pedido recebido'), ('paid', 'Pagamento aprovado'), ('invoiced', 'Nota fiscal emitida'), ('shipped', 'Pedido enviado'), ('delivered', 'Pedido entregue'), ('canceled', 'Pedido cancelado'), ('payment_overdue', 'Pagamento vencido'), ('return_requested', 'Devolução solicitada'), ('return_authorized', 'Devolução autorizada'), ('return_refused', 'Devolução recusada'), ('return_refunded', 'Devolução reembolsada')], max_length=20, unique=True),
        ),
        migrations.AlterField(
            model_name='sentemail',
            name='status',
            field=models.CharField(choices=[('received', 'Pedido recebido'), ('paid', 'Pagamento aprovado'), ('invoiced', 'Nota fiscal emitida'), ('shipped', 'Pedido enviado'), ('delivered', 'Pedido entregue'), ('canceled', 'Pedido cancelado'), ('payment_overdue', 'Pagamento vencido'), ('return_requested', 'Devolução solicitada'), ('return_authorized', 'Devolução autorizada'), ('return_refused', 'Devolução recusada'), ('return_refunded', 'Devolução reembolsada')], max_length=20),
        ),
        migrations.AddConstraint(
            model_name='sentemail',
            constraint=models.UniqueConstraint(condition=models.Q(('ret__isnull', True)), fields=('order', 'status'), name='sent_email_once_per_status'),
        ),
        migrations.AddConstraint(
            model_name='sentemail',
            constraint=models.UniqueConstraint(condition=models.Q(('ret__isnull', False)), fields=('ret', 'status'), name='sent_email_once_per_return_step'),
        ),
        migrations.RunPython(seed, unseed),
    ]
