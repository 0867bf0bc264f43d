"""On PostgreSQL, a trigram index (pg_trgm) on the requests' search column: the requests page
looks for every word of the search box anywhere in it (LIKE '%word%'), which no B-tree can
answer; without the index it reads the whole table (bench/request_search.py).

Created only if the extension is, or can be, installed (pg_trgm is a trusted extension: the
database's owner may create it); otherwise the search stays correct, only slower. SQLite has
no such index: the search there reads the column, which suits the sizes it is used for."""

import logging

from django.db import DatabaseError, migrations, transaction

INDEX = "request_search_trgm"
logger = logging.getLogger(__name__)


def create_index(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        try:
            with transaction.atomic(using=connection.alias):
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DatabaseError as exc:
            logger.warning("pg_trgm unavailable (%s): requests are searched without an index", exc)
            return
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON tickets_request "
            "USING gin (search_text gin_trgm_ops)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
