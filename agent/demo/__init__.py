"""Deterministic demo organisation (services, people, a year of incidents) as plain Python data."""
