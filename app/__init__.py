"""Tremplin: training administration and public online registration."""
