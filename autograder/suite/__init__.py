"""What students read: the graded tests, their hypothesis strategies, checks, probes and data."""
