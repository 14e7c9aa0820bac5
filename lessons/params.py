"""Typed, bounded parameters that a learner may choose, and their validation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from .boundary import LabError

ParamType = Literal["int", "float", "bool", "seconds_or_none"]


class BadInput(LabError):
    """A value a learner sent that is not allowed; becomes a 400 naming the field."""

    def __init__(self, field: str, error: str, allowed: Any) -> None:
        super().__init__(error, field=field, allowed=allowed)
        self.error = error


TRUE = {"1", "true", "on", "yes"}
FALSE = {"0", "false", "off", "no"}


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType
    default: Any
    min: float | None = None
    max: float | None = None
    help: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "help": self.help,
        }

    def allowed(self) -> str:
        if self.type == "bool":
            return "true or false"
        span = f"{self.min:g} to {self.max:g}"
        if self.type == "seconds_or_none":
            return f"{span} (seconds), or none for no limit"
        return f"a {'whole number' if self.type == 'int' else 'number'} from {span}"

    def parse(self, raw: Any) -> Any:
        """Turn a query-string or JSON value into this parameter's value."""
        if raw is None or raw == "":
            return self.default
        if self.type == "bool":
            return self._parse_bool(raw)
        if self.type == "seconds_or_none" and str(raw).strip().lower() in {"none", "null"}:
            return None
        return self._parse_number(raw)

    def _parse_bool(self, raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in TRUE | FALSE:
            return text in TRUE
        raise BadInput(self.name, f"{self.name} must be true or false", self.allowed())

    def _parse_number(self, raw: Any) -> int | float:
        try:
            value = float(raw) if not isinstance(raw, bool) else math.nan
        except (TypeError, ValueError, OverflowError):
            value = math.nan
        if not math.isfinite(value) or (self.type != "float" and value != int(value)):
            raise BadInput(self.name, f"{self.name} must be {self.allowed()}", self.allowed())
        assert self.min is not None and self.max is not None
        if not self.min <= value <= self.max:
            raise BadInput(self.name, f"{self.name} must be {self.allowed()}", self.allowed())
        return value if self.type == "float" else int(value)


def parse_all(params: tuple[Param, ...], raw: dict[str, Any]) -> dict[str, Any]:
    return {p.name: p.parse(raw.get(p.name)) for p in params}


def ensure_known(known: set[str], raw: dict[str, Any], what: str) -> None:
    """Reject a parameter name the strategy does not have (a typo would be silent)."""
    unknown = sorted(set(raw) - known)
    if unknown:
        raise BadInput(unknown[0], f"{what} has no parameter {unknown[0]!r}", sorted(known))
