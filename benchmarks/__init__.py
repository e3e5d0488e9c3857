"""The benchmark: how fast grading is and how much memory it takes (``python benchmarks/grading_speed.py``)."""
