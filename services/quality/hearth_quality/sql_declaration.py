"""What a measure declares about its set-based form (see set_based.py). Plain Python."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SqlDeclaration:
    """The family of SQL that computes a measure, and the measure's parameters in it (data from
    measures.toml, bound into the statement, never pasted into it unless checked against the
    family's vocabulary of columns)."""

    family: str
    params: Mapping[str, Any] = field(default_factory=dict)
