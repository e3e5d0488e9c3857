"""Autograder for the ``pytorch_nn`` assignment.

Run ``pytest autograder/`` to grade the notebooks in ``assignments/pytorch_nn/``, or
``pytest autograder/ --submission DIR`` to grade another folder of notebooks.
"""
