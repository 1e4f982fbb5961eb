"""Benchmarks: ``python -m benchmarks.run [names...]`` runs them all (see ``run``)."""
