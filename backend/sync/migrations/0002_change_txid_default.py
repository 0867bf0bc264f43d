"""On PostgreSQL, each feed row records the id of the transaction that wrote it, so that a pull
never passes a change that a still-open transaction could commit later (docs/sync.md)."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE sync_change ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint)"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE sync_change ALTER COLUMN txid SET DEFAULT 0")


class Migration(migrations.Migration):
    dependencies = [("sync", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
