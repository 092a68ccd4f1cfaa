"""Running the benchmark: `scripts/bench` (`make bench`)."""
