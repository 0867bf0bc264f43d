"""Plain INSERTs of many rows (demo history, benchmarks): values made ready for the database
as Django would, without building a model instance per row. bulk_create spends most of its
time preparing each field of each instance; for tens of thousands of rows whose values are
already known, this is several times faster. No signals, no auto_now: the caller gives every
value."""

from django.db import connection

# Field types whose Python value is already what the database drivers take.
_PLAIN = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "EmailField",
    "IntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SlugField",
    "TextField",
}


def insert_rows(model, columns: list[str], rows, batch: int = 2000) -> int:
    """INSERT `rows` (tuples of values, in the order of `columns`, field names) in batches.
    Returns the number of rows."""
    fields = [model._meta.get_field(name) for name in columns]
    convert = []
    for index, f in enumerate(fields):
        kind = (f.target_field if f.is_relation else f).get_internal_type()
        if kind == "DateTimeField":
            convert.append((index, connection.ops.adapt_datetimefield_value))
        elif kind not in _PLAIN:
            convert.append((index, lambda value, f=f: f.get_db_prep_save(value, connection)))
    quote = connection.ops.quote_name
    # Names from the model, values as parameters.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        quote(model._meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    count = 0
    pending = []
    with connection.cursor() as cursor:
        for row in rows:
            pending.append(row)
            if len(pending) == batch:
                cursor.executemany(sql, _prepare(pending, convert))
                count += len(pending)
                pending = []
        if pending:
            cursor.executemany(sql, _prepare(pending, convert))
            count += len(pending)
    return count


def _prepare(rows: list, convert: list) -> list:
    """Each value converted once per batch (a timeline repeats its request and its moments)."""
    seen = [{} for _ in convert]
    prepared = []
    for row in rows:
        row = list(row)
        for (index, prep), memo in zip(convert, seen, strict=True):
            value = row[index]
            try:
                if value not in memo:
                    memo[value] = prep(value)
                row[index] = memo[value]
            except TypeError:  # not hashable (a JSON value)
                row[index] = prep(value)
        prepared.append(row)
    return prepared


def insert_objects(model, objects) -> int:
    """Model instances whose every value is set (no auto_now, no database default), but an
    automatic primary key."""
    fields = [f for f in model._meta.concrete_fields if f is not model._meta.auto_field]
    attnames = [f.attname for f in fields]
    return insert_rows(
        model,
        [f.name for f in fields],
        (tuple(getattr(o, name) for name in attnames) for o in objects),
    )
