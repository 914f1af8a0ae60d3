"""Importers that bring incident history in from elsewhere: JSON lines and Slack workspace exports.

This package's `__init__` stays free of heavy imports so the CLI can print the record schema in
`incident-copilot import --help` without loading the store.
"""

from __future__ import annotations

RECORD_SCHEMA = """\
One JSON object per line, one incident per line. Times are ISO-8601 with a
time zone offset (2026-11-27T12:00:00Z); a time without offset is an error.

  id               int, required: the number in incident-<id>
  title            string, required, not empty
  severity         required: SEV-1 .. SEV-5 or unknown (sev1, Sev-1, critical)
  status           required: active, stable, resolved or completed
  declared_at      time, required
  stable_at        time or null, optional
  resolved_at      time or null; required for resolved and completed, not
                   before declared_at, null for active and stable
  completed_at     time or null, optional
  services         list of service names or aliases (new names are created)
  commander        string or null
  customer_impact  string or null
  root_cause       string or null
  remediation      string or null
  summary          string or null
  channel          Slack channel name (incident-42-checkout-errors) or null
  channel_id       Slack channel id (C0123ABCD) or null, optional
  private          bool, optional (default false)
  responders       list of names, optional (default: commander and authors)
  timeline         list of entries:
    at             time, required
    author         string, required
    text           string, required, not empty
    kind           message (default), status_change, severity_change, note
                   or declared
    ts             Slack message ts ("1732708800.000100"), optional

Re-importing an id updates that incident: a key left out keeps the stored
value, a key given as null clears it, imported timeline entries are replaced
and entries that came from Slack are kept. The whole file is checked first;
one bad line (bad JSON, missing title, unknown severity, bad time) stops the
import with its line number, and nothing from the file is written.
"""
"""The JSON-lines record schema, as printed by `incident-copilot import --help` and README.md."""
