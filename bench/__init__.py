"""`make bench`: a database seeded at a scale of the real backlog (`seed`), the views it is
measured against (`bare`), and the driver that serves the application as production would,
loads it and writes the results under `bench/results/` (`driver`)."""
