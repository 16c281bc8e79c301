"""Measurements of the machine and of the workers."""
