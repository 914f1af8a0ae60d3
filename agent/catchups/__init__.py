"""When each person last caught up on each incident, so the next catch-up tells only what is new."""
