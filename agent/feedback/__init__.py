"""Answers people can vote on, their votes, and the acceptance report built from them."""
