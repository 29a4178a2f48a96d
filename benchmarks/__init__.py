"""Reproducible benchmark scripts (`make bench`)."""
