"""Indexes behind host search (the run page's host picker searches as you type).

Postgres only: SQLite (the embedded default) has no trigram or pattern-ops indexes and
serves small inventories well with a scan. The expressions match the SQL Django emits
for `Lower("hostname") contains`, `primary_ip startswith` and `labels contains`
(apps/inventory/selectors.py); tests/inventory/test_search_indexes.py pins that.
"""

import logging

from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger(__name__)

INDEXES = {
    # lower(hostname) LIKE '%web%'
    "host_hostname_trgm": "ON inventory_host USING gin (lower(hostname) gin_trgm_ops)",
    # host(primary_ip) LIKE '10.0.%'
    "host_ip_prefix": "ON inventory_host (host(primary_ip) text_pattern_ops)",
    # labels @> '["web"]'
    "host_labels_gin": "ON inventory_host USING gin (labels jsonb_path_ops)",
}


def _trigram_available(schema_editor) -> bool:
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError:
        logger.warning("pg_trgm is not available: host search will scan instead of using a trigram index.")
        return False
    return True


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    trigram = _trigram_available(schema_editor)
    for name, definition in INDEXES.items():
        if "gin_trgm_ops" in definition and not trigram:
            continue
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
