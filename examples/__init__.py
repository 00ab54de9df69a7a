"""Runnable examples; a package so that worker processes can import ``examples.worker_app:app``."""
