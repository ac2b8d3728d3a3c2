"""Index for the contains-search over ``Order.search_key``.

SQLite: an external-content FTS5 table with the trigram tokenizer, kept in step by triggers.
PostgreSQL: the pg_trgm extension and a GIN trigram index, which serves ``LIKE '%…%'``.
"""

from typing import Any

from django.db import migrations

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE orders_order_fts USING fts5("
    "search_key, content='orders_order', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER orders_order_fts_ai AFTER INSERT ON orders_order BEGIN "
    "INSERT INTO orders_order_fts(rowid, search_key) VALUES (new.id, new.search_key); END",
    "CREATE TRIGGER orders_order_fts_ad AFTER DELETE ON orders_order BEGIN "
    "INSERT INTO orders_order_fts(orders_order_fts, rowid, search_key) VALUES ('delete', old.id, old.search_key); END",
    "CREATE TRIGGER orders_order_fts_au AFTER UPDATE OF search_key ON orders_order BEGIN "
    "INSERT INTO orders_order_fts(orders_order_fts, rowid, search_key) VALUES ('delete', old.id, old.search_key); "
    "INSERT INTO orders_order_fts(rowid, search_key) VALUES (new.id, new.search_key); END",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS orders_order_fts_au",
    "DROP TRIGGER IF EXISTS orders_order_fts_ad",
    "DROP TRIGGER IF EXISTS orders_order_fts_ai",
    "DROP TABLE IF EXISTS orders_order_fts",
]
POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS order_search_trgm ON orders_order USING gin (search_key gin_trgm_ops)",
]
POSTGRES_BACKWARD = ["DROP INDEX IF EXISTS order_search_trgm"]


def _run(statements: dict[str, list[str]]) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        )
    ]
