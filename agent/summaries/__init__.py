"""Catch-up summaries of an incident's timeline: extracted offline (`extract`), rendered for people (`render`)."""
