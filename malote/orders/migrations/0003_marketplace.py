"""Order.marketplace: the sub-channel at a hub or marketplace.

Adding a column makes Django rebuild ``orders_order`` on SQLite, which drops the search-index
triggers; they are created again here (every later migration that rebuilds the table must do so).
"""

import importlib
from typing import Any

from django.db import migrations, models

search_index = importlib.import_module("malote.orders.migrations.0002_search_index")
TRIGGERS = [sql for sql in search_index.SQLITE_FORWARD if sql.startswith("CREATE TRIGGER")]


def recreate_search_triggers(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    for sql in TRIGGERS:
        name = sql.split()[2]
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_search_index")]

    operations = [
        migrations.AddField(
            model_name="order",
            name="marketplace",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.RunPython(recreate_search_triggers, migrations.RunPython.noop),
    ]
