"""An import registers thousands of cases in one transaction: the duplicate check's locks of
national IDs must not grow with them (PostgreSQL's shared lock table holds about 64 per
connection; one lock per number ran out of shared memory at a few thousand rows)."""

import pytest
from django.db import connection, transaction

from patients.services.duplicates import NATIONAL_ID_LOCK_BUCKETS, _lock_national_id


@pytest.mark.postgres
def test_national_id_locks_are_bounded_in_one_transaction(require_postgres):
    with transaction.atomic():
        for n in range(5 * NATIONAL_ID_LOCK_BUCKETS):
            _lock_national_id(f"{700000000 + n}")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid()"
            )
            (held,) = cursor.fetchone()
    assert 0 < held <= NATIONAL_ID_LOCK_BUCKETS
