"""Postmortem drafting: templates, offline sections, the model path, and the store-facing service.

* :mod:`agent.postmortems.templates` parses, validates and renders Markdown
  postmortem templates that use ``{{incident.<field>}}`` variables, and loads
  the built-in ``plain`` and ``ai`` templates from ``prompts/templates``.
* :mod:`agent.postmortems.extract` builds the extracted (no model) postmortem
  sections from a frozen view of an incident and its timeline, read with the
  rules of :mod:`agent.summaries.extract`. Every point cites the timeline
  entries it came from, and nothing that is not recorded (such as a root cause)
  is invented.
* :mod:`agent.postmortems.llm` writes summaries and sections with a chat model.
* :mod:`agent.postmortems.service` reads the store and keeps drafts and templates.

The store-facing code converts ORM rows into the frozen ``IncidentView`` and
``EntryView`` dataclasses defined in :mod:`agent.summaries.extract`.
"""
