"""Touchup: follows each botulinum-toxin patient around the care cycle."""

__version__ = "0.1.0"
