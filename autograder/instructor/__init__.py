"""The instructor's tools: grading a class, the gradebook, the Gradescope bundle, the grading command line."""
