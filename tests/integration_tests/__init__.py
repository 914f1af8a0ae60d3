"""Integration tests: real HTTP against local servers (`langgraph dev`, Slack, the stub OpenAI server)."""
