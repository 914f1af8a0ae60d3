"""Tool `declare`: open a new incident once the person asking confirms."""

from __future__ import annotations

from typing import Any

from langgraph.prebuilt import ToolRuntime
from pydantic import BaseModel, Field

from agent.db import session_for
from agent.incidents import catalogue, service
from agent.incidents.exceptions import InvalidInput
from agent.normalize import parse_severity, resolve_service
from tools.confirmation import confirmed_write, require_request
from tools.runtime import agent_tool, context_of, state_value


class DeclareArgs(BaseModel):
    """Arguments of `declare`."""

    title: str
    severity: str = "unknown"
    services: list[str] = Field(default_factory=list)
    customer_impact: str | None = None


@agent_tool(DeclareArgs)
def declare(
    runtime: ToolRuntime,
    title: str,
    severity: str = "unknown",
    services: list[str] | None = None,
    customer_impact: str | None = None,
) -> Any:
    """Declare a new active incident; the person asking is shown it and must confirm it.

    Only when the person asking requests a new incident in their own message.

    Args:
        title: Short description of what is wrong, e.g. "Checkout errors for EU customers".
        severity: SEV-1 (worst) to SEV-5, or unknown when not said.
        services: Impacted services, by name or alias.
        customer_impact: What customers experience, if said.
    """
    context = context_of(runtime)
    cleaned_title = title.strip()
    if not cleaned_title:
        raise InvalidInput("An incident needs a title; what is going wrong?")
    level = parse_severity(severity)
    require_request(runtime, "declare", wording="declare an incident")
    with session_for(context.database_url) as db_session:
        vocabulary = catalogue.service_vocabulary(db_session=db_session)
        names = list(dict.fromkeys(resolve_service(name, vocabulary) for name in services or ()))
    impact = customer_impact.strip() if customer_impact and customer_impact.strip() else None
    listed = f" on {', '.join(names)}" if names else ""
    return confirmed_write(
        runtime,
        action="declare",
        incident=None,
        summary=f"Declare a new {level.value} incident{listed}: {cleaned_title}",
        changes={
            "title": [None, cleaned_title],
            "severity": [None, level.value],
            "status": [None, "active"],
            "services": [[], names],
            "customer_impact": [None, impact],
        },
        apply=lambda db_session, actor: service.declare(
            db_session=db_session,
            title=cleaned_title,
            severity=level,
            now=context.clock(),
            actor=actor,
            source=context.source,
            services=names,
            commander=state_value(runtime, "user") or actor,
            customer_impact=impact,
        ),
    )
