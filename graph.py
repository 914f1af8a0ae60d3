"""The agent graph for Studio / `langgraph dev` (`langgraph.json` points here).

Compiled without a checkpointer: Studio brings its own persistence. The graph itself is built in
`agent.graph`, which the runner compiles with a checkpointer.
"""

from agent.graph import builder

graph = builder.compile(name="Incident Copilot")
