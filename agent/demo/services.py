"""The demo organisation's service catalogue: `ServiceSpec` and the `SERVICES` built from its rows.

The rows themselves (names, display names, aliases, descriptions) are data in ``agent.demo.content``;
this module turns them into the values the importer's catalogue and the incident templates read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.demo.content import SERVICE_ROWS

__all__ = ["SERVICES", "ServiceSpec"]


@dataclass(frozen=True)
class ServiceSpec:
    """A service of the demo organisation.

    Attributes:
        name: Lowercase slug used in incident records, e.g. "payments".
        display_name: Human name, e.g. "Payments".
        aliases: What people write instead of the slug ("pay", "payments-api", ...).
        description: One sentence about what the service does.
    """

    name: str
    display_name: str
    aliases: tuple[str, ...]
    description: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (aliases as a list)."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "aliases": list(self.aliases),
            "description": self.description,
        }


SERVICES: list[ServiceSpec] = [
    ServiceSpec(name, display, aliases, desc) for name, display, aliases, desc in SERVICE_ROWS
]
