"""The Slack app: a Bolt app whose listeners answer mentions, sync timelines and confirm writes.

`app.build_app` assembles it, `server` serves it over HTTP (uvicorn) or Socket Mode, `listeners/` holds the
handlers, and `blocks`, `history`, `dedupe` and `catchup` are the pieces they share.
"""
