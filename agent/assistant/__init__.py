"""What each assistant-panel thread is looking at (the channel the person has open), kept in the store."""
