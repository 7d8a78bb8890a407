"""The MLOps capstone grader: scores a team repository against a milestone rubric."""

__version__ = "0.1.0"
