"""Replies that could not be delivered yet, kept in the store until they are."""
