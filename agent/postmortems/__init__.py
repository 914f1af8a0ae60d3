"""Postmortem drafting and incident summaries.

This package holds the parts of the summaries/postmortems feature that need no
database or model, so they can be tested and benchmarked on plain data:

* :mod:`agent.postmortems.templates` parses, validates and renders Markdown
  postmortem templates that use ``{{incident.<field>}}`` variables, and loads
  the built-in ``plain`` and ``ai`` templates from ``prompts/templates``.
* :mod:`agent.postmortems.extract` builds the offline (no model) extractive
  catch-up summary and the extracted postmortem sections from a frozen view of
  an incident and its timeline. Every point cites the timeline entries it came
  from, and nothing that is not recorded (such as a root cause) is invented.

The store-facing code converts ORM rows into the frozen ``IncidentView`` and
``EntryView`` dataclasses defined in :mod:`agent.postmortems.extract`.
"""
