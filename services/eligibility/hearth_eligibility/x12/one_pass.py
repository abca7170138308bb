"""The one pass over an 834 with the compiled guide (see `guide` for why): tokenize with the
separators the ISA declares, place every segment in the guide's loops, check the envelope's
counts and control numbers and every element with pyx12's own validators, and collect errors
naming segment, position and line as pyx12 does."""

import re
from dataclasses import dataclass
from typing import Any

import pyx12.errors
import pyx12.segment
import pyx12.syntax

from .guide import Guide, LoopRule, OutsideSubset, SegmentRule
from .validation import NOT_X12, X12Error, X12Rejected, X12Segment, redact

# Letters and digits with inner spaces, dots and hyphens: valid in any X12 character set, no
# control characters, no trailing space.
_PLAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 .\-]*[A-Za-z0-9.\-])?\Z")


@dataclass
class _Frame:
    loop: LoopRule
    index: int
    counts: list[int]


def _required_between(loop: LoopRule, current: int, index: int) -> tuple[int, ...]:
    """The required children a move from child `current` to child `index` (len = the loop's
    end) leaves behind: those of the groups from `current`'s on, before `index`'s group."""
    children = loop.children
    if index < len(children) and current >= 0 and children[index].pos == children[current].pos:
        return ()
    start = loop.group_start[current] if current >= 0 else 0
    return tuple(
        i
        for i in range(start, index)
        if children[i].usage == "R" and (index == len(children) or children[i].pos != children[index].pos)
    )


class _Stop(Exception):
    """A structural error: the rest of the file cannot be placed."""


class _Walk:
    """The state of one pass: where in the guide the reader stands, and the envelope's counts."""

    def __init__(self, guide: Guide, element: str, component: str) -> None:
        self.element, self.component = element, component
        self.frames = [_Frame(guide.root, -1, [0] * len(guide.root.children))]
        self.errors: list[X12Error] = []
        self.segments: list[X12Segment] = []
        self.line = 0
        self.current = ""
        self.position = 0
        self.envelope: list[tuple[str, str, int]] = []
        self.ids: dict[str, set[str]] = {"ISA": set(), "GS": set(), "ST": set()}
        self.counts = {"GS": 0, "ST": 0}
        self.checked: dict[tuple[int, Any], list[tuple[str, str | None]]] = {}
        self.syntax_checked: dict[tuple[int, tuple[bool, ...]], list[str]] = {}
        self.segments_checked: dict[tuple[int, Any], list[tuple[str, str | None]]] = {}
        self.moves: dict[tuple[int, int, str, str], tuple[int, int, list[LoopRule]]] = {}
        self.memo_safe = guide.qualifiers_first
        self.required_between: dict[tuple[int, int, int], tuple[int, ...]] = {}

    def error(self, seg_id: str, reason: str, element: str | None = None, *, positioned: bool = True) -> None:
        position = self.position or None if positioned else None
        self.errors.append(X12Error(seg_id, position, self.line, reason, element))

    # -- structure ---------------------------------------------------------------------------

    def place(self, seg_id: str, values: list[str]) -> str:
        """Move to the segment's place in the guide; returns the id of the loop it belongs to."""
        top = self.frames[-1]
        memo = (id(top.loop), top.index, seg_id, values[0] if values else "")
        known = self.moves.get(memo) if self.memo_safe else None
        if known is None:
            known = self._search(seg_id, values)
            if self.memo_safe:
                # The stack below the top frame follows from it (the guide is a tree), so the
                # same segment id and qualifier from the same place always lands in the same place.
                self.moves[memo] = known
        level, index, opened = known
        frames = self.frames
        while len(frames) > level + 1:
            self._close(frames.pop(), seg_id)
        frame = frames[level]
        self._passed(frame, index)
        frame.index = index
        frame.counts[index] += 1
        child = frame.loop.children[index]
        if child.max_use is not None and frame.counts[index] > child.max_use:
            kind = "Loop" if opened else "Segment"
            self.error(
                seg_id, f'{kind} "{child.name}" ({child.id}) exceeds its maximum use of {child.max_use}'
            )
        for loop in opened:
            if not loop.walked:
                raise OutsideSubset(loop.id)
            counts = [0] * len(loop.children)
            counts[0] = 1
            frames.append(_Frame(loop, 0, counts))
        return frames[-1].loop.id

    def _search(self, seg_id: str, values: list[str]) -> tuple[int, int, list[LoopRule]]:
        """(stack level, child index, loops opened) of the segment's place, innermost first."""
        for level in range(len(self.frames) - 1, -1, -1):
            found = self._find(self.frames[level], seg_id, values)
            if found is not None:
                return level, *found
        self.error(seg_id, f"Segment {seg_id} is not expected here in the 834 (005010X220A1)")
        raise _Stop

    def _find(self, frame: _Frame, seg_id: str, values: list[str]) -> tuple[int, list[LoopRule]] | None:
        children = frame.loop.children
        start = frame.loop.group_start[frame.index] if frame.index >= 0 else 0
        for i in range(start, len(children)):
            child = children[i]
            if isinstance(child, SegmentRule):
                if child.matches(seg_id, values, self.component):
                    return i, []
            elif (opened := child.opening(seg_id, values, self.component)) is not None:
                return i, opened
        return None

    def _passed(self, frame: _Frame, index: int) -> None:
        """Moving on to child `index`: required children left behind are missing (pyx12 reports
        them at the segment that moves past them, as here)."""
        key = (id(frame.loop), frame.index, index)
        required = self.required_between.get(key)
        if required is None:
            required = self.required_between[key] = _required_between(frame.loop, frame.index, index)
        for i in required:
            if frame.counts[i] == 0:
                child = frame.loop.children[i]
                if isinstance(child, LoopRule):
                    first = child.first_segment()
                    self.error(first.id, f'Mandatory loop "{child.name}" ({child.id}) missing')
                else:
                    self.error(child.id, f'Mandatory segment "{child.name}" ({child.id}) missing')

    def _close(self, frame: _Frame, seg_id: str) -> None:
        self._passed(frame, len(frame.loop.children))

    # -- envelope ----------------------------------------------------------------------------

    def envelope_open(self, seg_id: str, control: str) -> None:
        if control in self.ids[seg_id]:
            self.error(seg_id, f"{seg_id} Interchange Control Number {control} not unique within file")
        self.ids[seg_id].add(control)
        self.envelope.append((seg_id, control, self.line))
        if seg_id == "ISA":
            self.counts["GS"], self.ids["GS"] = 0, set()
        elif seg_id == "GS":
            self.counts["GS"] += 1
            self.counts["ST"], self.ids["ST"] = 0, set()
        else:
            self.counts["ST"] += 1
            self.position = 1

    def envelope_close(self, seg_id: str, values: list[str]) -> None:
        """Trailer checks as pyx12's reader makes them; like it, errors carry no position."""
        opener = {"SE": "ST", "GE": "GS", "IEA": "ISA"}[seg_id]
        count, control = (values + ["", ""])[:2]
        expected = {"SE": self.position + 1, "GE": self.counts["ST"], "IEA": self.counts["GS"]}[seg_id]
        if not self.envelope or self.envelope[-1][0] != opener:
            self.error(seg_id, f"{seg_id} closes no open {opener}", positioned=False)
            raise _Stop
        if self.envelope[-1][1] != control:
            self.error(
                seg_id,
                f"{seg_id} id={control} does not match {opener} id={self.envelope[-1][1]}",
                positioned=False,
            )
        if not count.isdigit() or int(count) != expected:
            self.error(
                seg_id,
                f"{seg_id} count of {count} for {seg_id}02={control} is wrong. I count {expected}",
                positioned=False,
            )
        self.envelope.pop()

    # -- elements ----------------------------------------------------------------------------

    def check_elements(self, rule: SegmentRule, raw: str, values: list[str]) -> None:
        """The segment's element and syntax errors; an identical segment is checked once."""
        if rule.free_positions:
            # A member's own segment (its id, its name): plain free-text values count by length.
            shape = list(values)
            for i in rule.free_positions:
                if i < len(shape) and _PLAIN.match(shape[i]):
                    shape[i] = len(shape[i])  # type: ignore[call-overload]
            key: tuple[int, Any] = (id(rule), tuple(shape))
        else:
            key = (id(rule), raw)
        found = self.segments_checked.get(key)
        if found is None:
            found = self.segments_checked[key] = self._segment_errors(rule, raw, values)
        for reason, element in found:
            self.error(rule.id, reason, element)

    def _segment_errors(self, rule: SegmentRule, raw: str, values: list[str]) -> list[tuple[str, str | None]]:
        errors: list[tuple[str, str | None]] = []
        if len(values) > len(rule.elements):
            errors.append(
                (
                    f'Too many elements in segment "{rule.name}" ({rule.id}). Has {len(values)}, '
                    f"should have {len(rule.elements)}",
                    None,
                )
            )
        type_list: list[str] = []
        for index, node in enumerate(rule.elements):
            value = values[index] if index < len(values) else None
            if node.is_composite():
                found = self._element(node, value, (), False)
            else:
                types: tuple[str, ...] = ()
                if (
                    rule.id == "DTP"
                    and index == 2
                    and len(values) > 1
                    and values[1] in ("RD8", "D8", "D6", "DT", "TM")
                ):
                    types = (values[1],)
                elif node.data_ele == "1251" and type_list:
                    types = tuple(type_list)
                if node.data_ele == "1250":
                    type_list.extend(node.valid_codes)
                found = self._element(node, value, types, rule.free_text[index])
            if found:
                errors += [(reason, refdes or f"{rule.id}{index + 1:02d}") for reason, refdes in found]
        if rule.syntax:
            present = tuple(v != "" for v in values)
            syntax_key = (id(rule), present)
            if syntax_key not in self.syntax_checked:
                seg = pyx12.segment.Segment(raw, "~", self.element, self.component)
                self.syntax_checked[syntax_key] = [
                    reason
                    for syn in rule.syntax
                    for ok, reason in [pyx12.syntax.is_syntax_valid(seg, syn)]
                    if not ok
                ]
            errors += [(reason, None) for reason in self.syntax_checked[syntax_key]]
        return errors

    def _element(
        self, node: Any, value: str | None, types: tuple[str, ...], free_text: bool
    ) -> list[tuple[str, str | None]]:
        """pyx12's own verdict on one value, computed once per (element, value). A plain value
        of a free-text element (a member id, a name) can only fail on its length, so it is
        cached by length."""
        if free_text and not types and value and _PLAIN.match(value) and self.component not in value:
            key: tuple[int, Any] = (id(node), len(value))
        else:
            key = (id(node), value if not types else f"{value}\x00{types}")
        cached = self.checked.get(key)
        if cached is not None:
            return cached
        if node.is_composite():
            data = None if value is None else pyx12.segment.Composite(value, self.component)
            ok, errors = node.is_valid_errors(data)
        else:
            data = None
            if value is not None:
                data = (
                    pyx12.segment.Composite(value, self.component)
                    if self.component in value and node.id != "ISA16"
                    else pyx12.segment.Element(value)
                )
            ok, errors = node.is_valid_errors(data, list(types)) if types else node.is_valid_errors(data)
        result = [(redact(e.err_str, e.err_val), getattr(e, "refdes", None)) for e in errors]
        self.checked[key] = result
        return result


_CONTROL = ("ISA", "GS", "ST")
_TRAILERS = ("SE", "GE", "IEA")
_TRAILER_OF = {"ISA": "IEA", "GS": "GE", "ST": "SE"}


def read_checked(text: str, guide: Guide, *, what: str = "the 834 file") -> list[X12Segment]:
    """Every segment of a valid 834, or `X12Rejected` naming the problems (segment, position,
    line), or `OutsideSubset` when the file needs pyx12's full walk."""
    if len(text) < 106 or not text.startswith("ISA"):
        raise X12Rejected([NOT_X12], what)
    element, component, terminator = text[3], text[104], text[105]
    if text[84:89] != "00501":
        raise X12Rejected(
            [X12Error("ISA", None, 1, "an 834 must be X12 version 00501 (ISA12)", "ISA12")], what
        )
    walk = _Walk(guide, element, component)
    try:
        for raw in text.split(terminator):
            raw = raw.lstrip("\r\n")
            if raw == "":
                break
            walk.line += 1
            if raw.startswith(" "):
                walk.error(raw.split(element, 1)[0].strip(), "Segment contains a leading space")
                raw = raw.lstrip()
            if raw.endswith(element):
                walk.error(raw.split(element, 1)[0], "Segment contains trailing element terminators")
            values = raw.split(element)
            seg_id = walk.current = values.pop(0)
            if seg_id == "ISA" and len(values) != 16:
                raise X12Rejected([NOT_X12], what)
            if seg_id in _CONTROL:
                walk.envelope_open(
                    seg_id, values[12] if seg_id == "ISA" else (values + [""] * 6)[5 if seg_id == "GS" else 1]
                )
            elif seg_id not in _TRAILERS:
                walk.position += 1
            loop = walk.place(seg_id, values)
            rule = walk.frames[-1].loop.children[walk.frames[-1].index]
            assert isinstance(rule, SegmentRule)
            walk.check_elements(rule, raw, values)
            if seg_id in _TRAILERS:
                walk.envelope_close(seg_id, values)
            walk.segments.append(X12Segment(seg_id, loop, walk.position, walk.line, tuple(values)))
        if walk.envelope:
            # Unterminated envelopes, named at their opening segment (as pyx12's reader does).
            for opener, control, line in walk.envelope:
                trailer = _TRAILER_OF[opener]
                walk.errors.append(
                    X12Error(opener, None, line, f"Mandatory trailer {trailer} ({trailer}={control}) missing")
                )
        else:
            while walk.frames:
                walk._close(walk.frames.pop(), "")
    except _Stop:
        pass
    except (pyx12.errors.EngineError, IndexError, ValueError, TypeError, AttributeError):
        # pyx12's validators give up on some malformed values (as its reader does on an
        # unreadable envelope): a refusal at that segment, never a server error.
        walk.error(walk.current or "ISA", "the segment cannot be read as X12")
    if walk.errors:
        raise X12Rejected(sorted(walk.errors, key=lambda e: e.line or 0), what)
    return walk.segments
