"""The service catalogue: the services incidents touch, their display names, descriptions and aliases.

Names are matched case-insensitively against a service's name and its aliases; `service_vocabulary` hands
the catalogue to `agent.normalize`, which reads the service names people write.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.incidents.models import Service
from agent.normalize import ServiceName


def list_services(*, db_session: Session) -> list[Service]:
    """Returns every service, by name."""
    return list(db_session.scalars(select(Service).order_by(Service.name)))


def service_vocabulary(*, db_session: Session) -> list[ServiceName]:
    """Returns the store's services with their aliases, as `agent.normalize` reads names."""
    return [
        ServiceName(name=s.name, aliases=tuple(s.aliases or ()), display_name=s.display_name)
        for s in list_services(db_session=db_session)
    ]


def get_service(*, db_session: Session, name: str) -> Service | None:
    """Returns the service of exactly this name, or None."""
    return db_session.scalar(select(Service).where(Service.name == name))


def get_service_by_name_or_alias(*, db_session: Session, name: str) -> Service | None:
    """Returns the service whose name or one of whose aliases is `name` (case-insensitive)."""
    wanted = name.strip().lower()
    for service in list_services(db_session=db_session):
        if service.name.lower() == wanted or wanted in (alias.lower() for alias in service.aliases):
            return service
    return None


def get_or_create_services(*, db_session: Session, names: Iterable[str]) -> list[Service]:
    """Returns the services with those names or aliases, creating unknown names as new services."""
    services: list[Service] = []
    for name in dict.fromkeys(n.strip() for n in names if n.strip()):
        service = get_service_by_name_or_alias(db_session=db_session, name=name)
        if service is None:
            service = Service(name=name.lower(), aliases=[])
            db_session.add(service)
            db_session.flush()
        services.append(service)
    return services


def upsert_service(
    *,
    db_session: Session,
    name: str,
    display_name: str | None = None,
    description: str | None = None,
    aliases: Sequence[str] = (),
) -> Service:
    """Creates the service or updates its display name, description and aliases."""
    service = get_service(db_session=db_session, name=name)
    if service is None:
        service = Service(name=name)
        db_session.add(service)
    service.display_name = display_name
    service.description = description
    service.aliases = list(aliases)
    db_session.flush()
    return service
