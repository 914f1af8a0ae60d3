"""The postmortem service: catch-up summaries, postmortem templates and drafts, over the store.

Together with the modules of :mod:`agent.incidents` this is the only code that touches a session.
Functions take keyword-only arguments, take ``now`` from the caller, commit their writes with an audit
record, and raise errors (subclasses of :class:`agent.incidents.exceptions.IncidentCopilotError`) whose
messages are fit to show a user.

Rules kept here:

* a summary needs at least :data:`MIN_SUMMARY_MESSAGES` timeline messages, a postmortem draft a resolved
  (or completed) incident with at least :data:`MIN_POSTMORTEM_MESSAGES`; the counts come from SQL;
* an incident has at most one linked postmortem (also enforced by a partial unique index). Generating
  while one is linked is refused unless ``replace=True``, which unlinks the old draft and links the new
  one in one transaction. Unlinked drafts stay in the incident's history;
* built-in templates (``prompts/templates``) are stored on first use, refreshed from their files, and
  cannot be deleted; custom templates are validated before they are saved.

The draft's AI sections are extracted from the timeline offline (``model=None``, marked as extracted) or
written by a chat model (:mod:`agent.postmortems.llm`); in both cases each cites timeline entries.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.incidents import audit as incident_audit
from agent.incidents import service as incident_service
from agent.incidents import timeline as incident_timeline
from agent.incidents.enums import EntrySource, Status
from agent.incidents.exceptions import IncidentCopilotError, InvalidInput
from agent.incidents.models import Incident, TimelineEntry
from agent.postmortems.extract import DRAFT_BANNER, draft_offline_postmortem, fixed_variables
from agent.postmortems.models import Postmortem, PostmortemTemplate
from agent.postmortems.templates import (
    BUILTIN_TEMPLATES,
    TemplateError,
    load_builtin_templates,
    parse_template,
    render_template,
    validate_template,
)
from agent.summaries.extract import EntryView, IncidentView, NotEnoughTimeline, Summary, extractive_summary

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "MIN_POSTMORTEM_MESSAGES",
    "not_ready_reason",
    "MIN_SUMMARY_MESSAGES",
    "OFFLINE_GENERATOR",
    "InvalidTemplate",
    "NoLinkedPostmortem",
    "PostmortemAlreadyLinked",
    "PostmortemNotReady",
    "TemplateNotFound",
    "create_template",
    "delete_template",
    "ensure_builtin_templates",
    "entry_views",
    "generate",
    "get_linked",
    "get_linked_or_raise",
    "get_template",
    "get_template_or_raise",
    "history",
    "incident_view",
    "list_templates",
    "summarize",
    "unlink",
]

logger = logging.getLogger(__name__)

MIN_SUMMARY_MESSAGES = 10
"""Fewest timeline messages worth a catch-up summary (the source document's rule)."""

MIN_POSTMORTEM_MESSAGES = 15
"""Fewest timeline messages for a postmortem draft (the source document's rule)."""

OFFLINE_GENERATOR = "offline-extractive"
"""``generated_by`` of a draft assembled without a model."""

POSTMORTEM_STATUSES = frozenset({Status.resolved, Status.completed})
"""Statuses in which an incident may get a postmortem draft."""

_TEMPLATE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")


class PostmortemNotReady(IncidentCopilotError):
    """The incident is not resolved, or its timeline is too short, for a postmortem draft."""


class PostmortemAlreadyLinked(IncidentCopilotError):
    """The incident already has a linked postmortem and replacing it was not asked for."""


class NoLinkedPostmortem(IncidentCopilotError):
    """The incident has no linked postmortem."""


class TemplateNotFound(IncidentCopilotError):
    """No postmortem template has that name."""


class InvalidTemplate(InvalidInput):
    """A template was refused; ``errors`` lists every problem with its line number."""

    def __init__(self, message: str, errors: Iterable[TemplateError] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)


# --- views -----------------------------------------------------------------------------------------


def incident_view(incident: Incident) -> IncidentView:
    """Returns the incident record as the frozen view the extraction and prompts work on."""
    return IncidentView(
        public_id=incident.public_id,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        declared_at=incident.declared_at,
        stable_at=incident.stable_at,
        resolved_at=incident.resolved_at,
        commander=incident.commander,
        services=tuple(incident.service_names),
        customer_impact=incident.customer_impact,
        root_cause=incident.root_cause,
        remediation=incident.remediation,
        summary=incident.summary,
    )


def entry_views(entries: Iterable[TimelineEntry]) -> list[EntryView]:
    """Returns timeline rows as frozen views, with their Slack permalinks and deletion marks."""
    return [
        EntryView(
            id=entry.id,
            at=entry.at,
            author=entry.author,
            kind=entry.kind,
            text=entry.text,
            permalink=entry.permalink,
            deleted=entry.deleted,
        )
        for entry in entries
    ]


def _timeline_views(db_session: Session, incident_id: int) -> list[EntryView]:
    return entry_views(incident_timeline.get_timeline(db_session=db_session, incident_id=incident_id))


# --- summaries -------------------------------------------------------------------------------------


def summarize(
    *,
    db_session: Session,
    incident_id: int,
    now: datetime,
    model: BaseChatModel | None = None,
    min_messages: int = MIN_SUMMARY_MESSAGES,
) -> Summary | NotEnoughTimeline:
    """Returns a catch-up summary of the incident, or NotEnoughTimeline below `min_messages` messages.

    Offline (`model=None`) the summary is extracted from the timeline by rules; with a chat model it is
    written map-reduce over the whole timeline. Either way every point cites its entries.
    """
    incident = incident_service.get_or_raise(db_session=db_session, incident_id=incident_id)
    message_count = incident_timeline.count_messages(db_session=db_session, incident_id=incident_id)
    if message_count < min_messages:
        return NotEnoughTimeline(
            incident_public_id=incident.public_id, message_count=message_count, min_messages=min_messages
        )
    view = incident_view(incident)
    entries = _timeline_views(db_session, incident_id)
    if model is None:
        return extractive_summary(view, entries, now=now, min_messages=min_messages)
    from agent.postmortems import llm  # lazy: +1.6 s (LangChain) start-up, for the model path only

    summary, stats = llm.summarize_with_model(model, view, entries, now=now, message_count=message_count)
    logger.info("summary of %s by %s: %s", incident.public_id, llm.model_label(model), stats.as_dict())
    return summary


# --- templates -------------------------------------------------------------------------------------


def list_templates(*, db_session: Session) -> list[PostmortemTemplate]:
    """Returns every stored template, built-ins first, then by name."""
    return list(
        db_session.scalars(
            select(PostmortemTemplate).order_by(PostmortemTemplate.builtin.desc(), PostmortemTemplate.name)
        )
    )


def get_template(*, db_session: Session, name: str) -> PostmortemTemplate | None:
    """Returns the stored template with that name (names are case-insensitive), or None."""
    return db_session.scalar(select(PostmortemTemplate).where(PostmortemTemplate.name == _template_key(name)))


def get_template_or_raise(*, db_session: Session, name: str) -> PostmortemTemplate:
    """Returns the stored template with that name, or raises TemplateNotFound naming the ones there are."""
    template = get_template(db_session=db_session, name=name)
    if template is None:
        names = [t.name for t in list_templates(db_session=db_session)] or list(BUILTIN_TEMPLATES)
        raise TemplateNotFound(f"There is no template '{name.strip()}'; choose one of: {', '.join(names)}.")
    return template


def ensure_builtin_templates(*, db_session: Session, now: datetime) -> list[PostmortemTemplate]:
    """Returns the built-in templates after storing any missing one and refreshing changed bodies.

    The files in `prompts/templates` are the source of truth for built-ins, so an upgrade that edits
    them reaches stores created earlier.
    """
    bodies = load_builtin_templates()
    changed = False
    for name, body in bodies.items():
        stored = get_template(db_session=db_session, name=name)
        if stored is None:
            try:
                with db_session.begin_nested():
                    db_session.add(
                        PostmortemTemplate(name=name, body=body, builtin=True, created_at=now, updated_at=now)
                    )
                changed = True
            except IntegrityError:
                # Stored a moment ago by a concurrent first use; theirs is identical.
                continue
        elif stored.builtin and stored.body != body:
            stored.body = body
            stored.updated_at = now
            changed = True
    if changed:
        db_session.commit()
    return [get_template_or_raise(db_session=db_session, name=name) for name in bodies]


def create_template(
    *,
    db_session: Session,
    name: str,
    body: str,
    actor: str,
    now: datetime,
    source: EntrySource | str = EntrySource.cli,
) -> PostmortemTemplate:
    """Returns the newly stored template; refuses a bad name, a taken name or a body with problems.

    Raises:
        InvalidTemplate: listing every problem of the body, each with its line and column.
        InvalidInput: when the name is malformed, belongs to a built-in or is already taken.
    """
    key = _template_key(name)
    if not _TEMPLATE_NAME_RE.match(key):
        raise InvalidInput(
            f"'{name}' is not a usable template name: use 1 to 100 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit."
        )
    if key in BUILTIN_TEMPLATES:
        raise InvalidInput(f"'{key}' is the name of a built-in template; choose another name.")
    errors = validate_template(body)
    if errors:
        lines = "\n".join(f"- {error}" for error in errors)
        raise InvalidTemplate(
            f"Template '{key}' was not saved: it has {len(errors)} problem(s):\n{lines}", errors
        )
    if get_template(db_session=db_session, name=key) is not None:
        raise InvalidInput(
            f"A template named '{key}' already exists; delete it first or choose another name."
        )
    template = PostmortemTemplate(name=key, body=body, builtin=False, created_at=now, updated_at=now)
    try:
        with db_session.begin_nested():
            db_session.add(template)
            incident_audit.record_audit(
                db_session=db_session,
                actor=actor,
                source=source,
                action="template_create",
                now=now,
                after={"template": key},
            )
        db_session.commit()
    except IntegrityError as error:
        db_session.rollback()
        raise InvalidInput(
            f"A template named '{key}' was created at the same moment; choose another name."
        ) from error
    return template


def delete_template(
    *,
    db_session: Session,
    name: str,
    actor: str,
    now: datetime,
    source: EntrySource | str = EntrySource.cli,
) -> None:
    """Deletes a custom template; built-in templates cannot be deleted.

    Drafts made from it keep their text (they store the template's name, not a reference).
    """
    template = get_template_or_raise(db_session=db_session, name=name)
    if template.builtin:
        raise InvalidInput(f"'{template.name}' is a built-in template and cannot be deleted.")
    db_session.delete(template)
    incident_audit.record_audit(
        db_session=db_session,
        actor=actor,
        source=source,
        action="template_delete",
        now=now,
        before={"template": template.name},
    )
    db_session.commit()


def _template_key(name: str) -> str:
    return name.strip().lower()


# --- postmortems -----------------------------------------------------------------------------------


def get(*, db_session: Session, postmortem_id: int) -> Postmortem | None:
    """Returns the postmortem with that id, linked or not, or None."""
    return db_session.get(Postmortem, postmortem_id)


def get_linked(*, db_session: Session, incident_id: int) -> Postmortem | None:
    """Returns the incident's linked postmortem, or None."""
    return db_session.scalar(
        select(Postmortem).where(Postmortem.incident_id == incident_id, Postmortem.linked.is_(True))
    )


def get_linked_or_raise(*, db_session: Session, incident_id: int) -> Postmortem:
    """Returns the incident's linked postmortem; raises IncidentNotFound or NoLinkedPostmortem."""
    incident = incident_service.get_or_raise(db_session=db_session, incident_id=incident_id)
    postmortem = get_linked(db_session=db_session, incident_id=incident_id)
    if postmortem is None:
        unlinked = len(history(db_session=db_session, incident_id=incident_id))
        hint = f" ({unlinked} unlinked draft(s) are in its history)" if unlinked else ""
        raise NoLinkedPostmortem(f"{incident.public_id} has no linked postmortem{hint}.")
    return postmortem


def history(*, db_session: Session, incident_id: int) -> list[Postmortem]:
    """Returns every postmortem drafted for the incident, linked or not, newest first."""
    return list(
        db_session.scalars(
            select(Postmortem)
            .where(Postmortem.incident_id == incident_id)
            .order_by(Postmortem.created_at.desc(), Postmortem.id.desc())
        )
    )


def generate(
    *,
    db_session: Session,
    incident_id: int,
    now: datetime,
    actor: str,
    template_name: str = "ai",
    model: BaseChatModel | None = None,
    replace: bool = False,
    min_messages: int = MIN_POSTMORTEM_MESSAGES,
    source: EntrySource | str = EntrySource.cli,
) -> Postmortem:
    """Returns a new postmortem draft, stored and linked to the incident.

    Fixed variables come from the store; AI variables are extracted from the timeline (`model=None`) or
    written by the model, each citing timeline entries. The draft starts with the draft banner.

    Raises:
        PostmortemNotReady: when the incident is not resolved/completed or has too few messages (both
            are named when both are missing).
        PostmortemAlreadyLinked: when a postmortem is linked and `replace` is False.
        TemplateNotFound: when there is no such template.
        agent.postmortems.llm.ModelCallFailed: when the model fails (nothing is stored).
    """
    incident, stored_template = check_draftable(
        db_session=db_session,
        incident_id=incident_id,
        now=now,
        template_name=template_name,
        replace=replace,
        min_messages=min_messages,
    )
    template = parse_template(stored_template.body)

    view = incident_view(incident)
    entries = _timeline_views(db_session, incident_id)
    generated_by = OFFLINE_GENERATOR
    model_stats: dict[str, int] = {}
    if model is None or not template.uses_ai:
        body = draft_offline_postmortem(template, view, entries, now=now)
    else:
        from agent.postmortems import llm  # lazy: +1.6 s (LangChain) start-up, for the model path only

        sections, stats = llm.draft_sections(model, view, entries, template.ai_fields)
        body = render_template(
            template,
            fixed_variables(view, entries, now=now),
            {field: section.text for field, section in sections.items()},
        )
        generated_by = llm.model_label(model)
        model_stats = stats.as_dict()
    if not body.startswith(DRAFT_BANNER):
        body = f"{DRAFT_BANNER}\n\n{body}"

    # The draft is built before this point so that a slow model call holds no transaction open.
    try:
        postmortem = _store_draft(
            db_session,
            incident,
            body=body,
            template_name=stored_template.name,
            generated_by=generated_by,
            model_stats=model_stats,
            now=now,
            actor=actor,
            replace=replace,
            source=source,
        )
    except IntegrityError as error:
        db_session.rollback()
        raise PostmortemAlreadyLinked(
            f"Someone linked a postmortem to {incident.public_id} at the same moment; nothing was stored. "
            f"Look at it with `postmortem show {incident.public_id}`, or generate again to replace it."
        ) from error
    return postmortem


def unlink(
    *,
    db_session: Session,
    incident_id: int,
    actor: str,
    now: datetime,
    source: EntrySource | str = EntrySource.cli,
) -> Postmortem:
    """Returns the postmortem just unlinked from the incident; it stays in the incident's history."""
    postmortem = get_linked_or_raise(db_session=db_session, incident_id=incident_id)
    _unlink(db_session, postmortem, actor=actor, now=now, source=source)
    db_session.commit()
    return postmortem


def check_draftable(
    *,
    db_session: Session,
    incident_id: int,
    now: datetime,
    template_name: str = "ai",
    replace: bool = False,
    min_messages: int = MIN_POSTMORTEM_MESSAGES,
) -> tuple[Incident, PostmortemTemplate]:
    """Returns the incident and the template when `generate` would draft its postmortem, raising what it
    would refuse with (`PostmortemNotReady`, `TemplateNotFound`, `PostmortemAlreadyLinked`), so that a draft
    is proposed for confirmation only when it can be made."""
    incident = incident_service.get_or_raise(db_session=db_session, incident_id=incident_id)
    _check_ready(db_session, incident, min_messages)
    ensure_builtin_templates(db_session=db_session, now=now)
    template = get_template_or_raise(db_session=db_session, name=template_name)
    if not replace:
        _refuse_if_linked(db_session, incident)
    return incident, template


def not_ready_reason(
    *, db_session: Session, incident: Incident, min_messages: int = MIN_POSTMORTEM_MESSAGES
) -> str | None:
    """Returns why no postmortem can be drafted for the incident yet (a sentence for the user), or None."""
    try:
        _check_ready(db_session, incident, min_messages)
    except PostmortemNotReady as error:
        return str(error)
    return None


def _check_ready(db_session: Session, incident: Incident, min_messages: int) -> None:
    """Raises PostmortemNotReady naming everything that is missing."""
    missing = []
    if Status(incident.status) not in POSTMORTEM_STATUSES:
        missing.append(f"it is {incident.status} (resolve it first)")
    message_count = incident_timeline.count_messages(db_session=db_session, incident_id=incident.id)
    if message_count < min_messages:
        noun = "message" if message_count == 1 else "messages"
        missing.append(
            f"its timeline has {message_count} {noun} ({min_messages - message_count} more needed)"
        )
    if missing:
        raise PostmortemNotReady(
            f"A postmortem draft needs a resolved (or completed) incident whose timeline has at least "
            f"{min_messages} messages; {incident.public_id} is not ready: {' and '.join(missing)}."
        )


def _refuse_if_linked(db_session: Session, incident: Incident) -> None:
    linked = get_linked(db_session=db_session, incident_id=incident.id)
    if linked is not None:
        raise PostmortemAlreadyLinked(
            f"{incident.public_id} already has a linked postmortem (#{linked.id}, drafted "
            f"{linked.created_at:%Y-%m-%d %H:%M} UTC by {linked.created_by}). Unlink it first (it stays "
            f"in the incident's history: `incident-copilot postmortem unlink {incident.public_id}`) or "
            "replace it (`--replace`, or ask to replace it)."
        )


def _store_draft(
    db_session: Session,
    incident: Incident,
    *,
    body: str,
    template_name: str,
    generated_by: str,
    model_stats: dict[str, int],
    now: datetime,
    actor: str,
    replace: bool,
    source: EntrySource | str,
) -> Postmortem:
    """Unlinks the current draft (when replacing) and links the new one, in one transaction."""
    current = get_linked(db_session=db_session, incident_id=incident.id)
    if current is not None:
        if not replace:
            # Linked by someone else while this draft was being written.
            _refuse_if_linked(db_session, incident)
        _unlink(db_session, current, actor=actor, now=now, source=source)
        # The partial unique index allows one linked row: the unlink must reach the database first.
        db_session.flush()
    postmortem = Postmortem(
        incident_id=incident.id,
        template_name=template_name,
        body=body,
        generated_by=generated_by,
        created_by=actor,
        created_at=now,
        linked=True,
    )
    db_session.add(postmortem)
    db_session.flush()
    incident_audit.record_audit(
        db_session=db_session,
        actor=actor,
        source=source,
        action="postmortem_generate",
        now=now,
        incident_id=incident.id,
        before={"linked_postmortem": current.id} if current is not None else None,
        after={
            "linked_postmortem": postmortem.id,
            "template": template_name,
            "generated_by": generated_by,
            **({"model": model_stats} if model_stats else {}),
        },
    )
    db_session.commit()
    return postmortem


def _unlink(
    db_session: Session, postmortem: Postmortem, *, actor: str, now: datetime, source: EntrySource | str
) -> None:
    postmortem.linked = False
    postmortem.unlinked_at = now
    postmortem.unlinked_by = actor
    incident_audit.record_audit(
        db_session=db_session,
        actor=actor,
        source=source,
        action="postmortem_unlink",
        now=now,
        incident_id=postmortem.incident_id,
        before={"linked_postmortem": postmortem.id},
        after={"linked_postmortem": None},
    )
