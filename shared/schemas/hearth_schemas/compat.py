"""Backward-compatibility rules for event schemas within one major version.

A change is compatible when a consumer written against the released schema still understands
every event the new schema allows: no property removed or changed, no new required property.
Adding an optional property is the one allowed change; anything else is a new major type.
"""

from typing import Any

_DOC_KEYS = {"description", "title", "examples"}


def _without_docs(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_docs(v) for k, v in schema.items() if k not in _DOC_KEYS}
    if isinstance(schema, list):
        return [_without_docs(v) for v in schema]
    return schema


def breaking_changes(released: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The reasons `current` cannot replace `released` under the same type; empty when it can."""
    problems: list[str] = []
    old_props: dict[str, Any] = released.get("properties", {})
    new_props: dict[str, Any] = current.get("properties", {})
    for name, old in old_props.items():
        if name not in new_props:
            problems.append(f"property '{name}' was removed")
        elif _without_docs(old) != _without_docs(new_props[name]):
            problems.append(f"property '{name}' changed its schema")
    for name in sorted(set(current.get("required", [])) - set(released.get("required", []))):
        problems.append(f"property '{name}' became required")
    old_defs = released.get("$defs", {})
    new_defs = current.get("$defs", {})
    for name, old in old_defs.items():
        if name not in new_defs:
            problems.append(f"definition '{name}' was removed")
        else:
            problems.extend(f"in '{name}': {p}" for p in breaking_changes(old, new_defs[name]))
    return problems
