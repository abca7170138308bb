"""One-pass 834 validation with rules compiled from pyx12's map of the implementation guide.

Why: pyx12's validator (`x12n_document`) spends ~90% of its time walking its map (path objects,
node counters, per-element validation objects) at ~0.3 ms a segment: 100,000 members (600,000
segments) take about 90 s here, and nothing in its parameters turns the walk off (they only
choose maps, character set and external code lists). Its tokenizer (X12Reader) is ~10% of it.
So the loops Hearth reads (guide_834.toml) are compiled ONCE from
pyx12's own map file into plain tables (segment order and repeats per loop, qualifiers, usage),
and one pass over the segments (`one_pass.read_checked`; ~3.5 s of CPU for 100,000 members)
checks:

- the envelope as pyx12's reader does: ISA/IEA, GS/GE, ST/SE control numbers and counts;
- order, repeats and required segments and loops per loop, matching segments the way pyx12 does
  (segment id, then the qualifier element it keys on);
- every element with pyx12's own element and composite validators and syntax notes (required,
  lengths, code sets, data types, dates), cached by value: an 834 repeats the same INS, HD and
  DTP segments for every member, so only the member's own values are validated afresh.

A segment that opens a loop outside the subset is not guessed at: `OutsideSubset` sends the
file to pyx12's full walk (`validation.read_validated`), which stays the authority and is also
used for small files and on request. The unit tests feed the same good and malformed files to
both validators and expect the same verdict, segment and position.
"""

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import pyx12.map_if
import pyx12.params


class OutsideSubset(Exception):
    """The file uses a loop the one-pass rules do not cover: pyx12's full walk decides."""


@dataclass(eq=False)
class SegmentRule:
    id: str
    name: str
    usage: str
    max_use: int | None
    # (0-based element index, component index or None, codes): pyx12 matches on this key.
    qualifier: tuple[int, int | None, frozenset[str]] | None
    elements: tuple[Any, ...]
    syntax: tuple[list[Any], ...]
    pos: int
    # Per element: free text (AN, no code list, no pattern), whose plain values fail only on length.
    free_text: tuple[bool, ...] = ()
    free_positions: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.free_positions = tuple(i for i, free in enumerate(self.free_text) if free)

    def matches(self, seg_id: str, values: Sequence[str], component: str) -> bool:
        if seg_id != self.id:
            return False
        if self.qualifier is None:
            return True
        index, sub, codes = self.qualifier
        value = values[index] if index < len(values) else ""
        if sub is not None:
            parts = value.split(component)
            value = parts[sub - 1] if sub <= len(parts) else ""
        return value in codes


@dataclass(eq=False)
class LoopRule:
    id: str
    name: str
    usage: str
    max_use: int | None
    walked: bool
    pos: int
    children: list["SegmentRule | LoopRule"] = field(default_factory=list)
    # For each child, the index of the first child at the same position (they may come in any order).
    group_start: list[int] = field(default_factory=list)

    def first_segment(self) -> SegmentRule:
        first = self.children[0]
        return first if isinstance(first, SegmentRule) else first.first_segment()

    def opening(self, seg_id: str, values: Sequence[str], component: str) -> list["LoopRule"] | None:
        """The loops a segment opens (this one and nested first loops), if it is their first."""
        first = self.children[0]
        if isinstance(first, SegmentRule):
            return [self] if first.matches(seg_id, values, component) else None
        inner = first.opening(seg_id, values, component)
        return [self, *inner] if inner is not None else None


@dataclass(frozen=True)
class Guide:
    version: str
    map_name: str
    root: LoopRule
    full_validation_max_bytes: int
    # Every qualifier is the first element: a move is then decided by (place, id, first element).
    qualifiers_first: bool


def _free_text(node: Any) -> bool:
    if node.is_composite() or node.usage == "N" or node.valid_codes or node.external_codes or node.rec:
        return False
    return node._resolve_data_ele()["data_type"] == "AN"


def _max(text: str | None) -> int | None:
    return None if text in (None, ">1") else int(text)  # type: ignore[arg-type]


def _compile(node: Any, walked: set[str]) -> LoopRule:
    loop = LoopRule(
        node.id or "", node.name or "", node.usage or "R", _max(node.repeat), node.id in walked, 0
    )
    for pos in sorted(node.pos_map):
        for child in node.pos_map[pos]:
            if child.is_loop():
                compiled = _compile(child, walked)
                compiled.pos = pos
                loop.children.append(compiled)
            else:
                key = child._resolve_unique_key_field(child.id, with_qual=False)
                qualifier = None
                if key is not None:
                    element, index, sub = key
                    qualifier = (index - 1, sub, frozenset(element.valid_codes))
                loop.children.append(
                    SegmentRule(
                        child.id,
                        child.name or "",
                        child.usage or "S",
                        _max(child.max_use),
                        qualifier,
                        tuple(child.children),
                        tuple(child.syntax),
                        pos,
                        # DTP03 and 1251 values are checked against the format their
                        # qualifier names (pyx12 does the same), so never by length alone.
                        tuple(
                            _free_text(e) and e.data_ele != "1251" and not (child.id == "DTP" and i == 2)
                            for i, e in enumerate(child.children)
                        ),
                    )
                )
    for i, child in enumerate(loop.children):
        loop.group_start.append(next(j for j in range(i + 1) if loop.children[j].pos == child.pos))
    return loop


def load_guide(text: str | None = None) -> Guide:
    raw = tomllib.loads(
        text if text is not None else files(__package__).joinpath("guide_834.toml").read_text()
    )
    tree = pyx12.map_if.load_map_file(raw["map"], pyx12.params.params())
    root = LoopRule("", tree.name or "", "R", 1, True, 0)
    for pos in sorted(tree.pos_map):
        for child in tree.pos_map[pos]:
            root.children.append(_compile(child, set(raw["loops"])))
            root.group_start.append(0)
    qualifiers = [r.qualifier for r in _segment_rules(root) if r.qualifier is not None]
    return Guide(
        str(raw["version"]),
        raw["map"],
        root,
        int(raw["full_validation_max_bytes"]),
        all(q[:2] == (0, None) for q in qualifiers),
    )


def _segment_rules(loop: LoopRule) -> list[SegmentRule]:
    found: list[SegmentRule] = []
    for child in loop.children:
        found += [child] if isinstance(child, SegmentRule) else _segment_rules(child)
    return found
