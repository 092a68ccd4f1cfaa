"""Seeding PostgreSQL for the benchmark: `python manage.py bench_seed --scale 1.0`."""
