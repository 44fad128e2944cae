"""Database writes the ORM makes slow."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, router
from django.db.models import Model


def update_rows(rows: Sequence[Model], fields: Sequence[str]) -> None:
    """Save these fields of these rows, as bulk_update does, in one prepared UPDATE run for each row.

    bulk_update builds a CASE expression for every row and field, and that costs about two milliseconds a row:
    too slow for a burst of PBX events touching a hundred agents. A row deleted meanwhile stays deleted.
    """
    if not rows:
        return
    model = type(rows[0])
    meta, connection = model._meta, connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    assignments = ", ".join(f"{quote(c.column)} = %s" for c in columns)
    # Names from the model, quoted; every value a parameter.
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    params = [[c.get_db_prep_save(getattr(row, c.attname), connection) for c in columns] + [row.pk] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
