"""`hearth coverage import FILE`: load a coverage roster (.csv, .ndjson) or an 834 enrolment file
(.834, .x12, .edi) into the eligibility service, with a progress bar.

Requests are limited to HEARTH_MAX_REQUEST_BYTES (1 MB by default) for every route, and the
platform gives no route a larger limit, so big files travel in parts: a roster in line chunks
under its header, an 834 split between member (INS) loops into smaller interchanges that are
each valid 005010X220A1 on their own (same envelope and header, SE count recomputed). Each part
loads whole or not at all; the import stops at the first refused part, and the parts before it
stay loaded. Sending the corrected file again is safe: lines and member loops already in effect
count as unchanged.
"""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

PART_BYTES = 900_000
X12_SUFFIXES = (".834", ".x12", ".edi")
TRAILERS = ("SE", "GE", "IEA")


def register(commands: argparse._SubParsersAction) -> None:
    coverage = commands.add_parser("coverage", help="work with the coverage registry")
    coverage_commands = coverage.add_subparsers(dest="coverage_command", required=True, metavar="COMMAND")
    load = coverage_commands.add_parser("import", help="import a roster (CSV, NDJSON) or an 834 file")
    load.add_argument("file", type=Path, help="a .csv or .ndjson roster, or an .834/.x12/.edi file")
    load.add_argument("--url", default="http://127.0.0.1:8002", help="the eligibility service")
    load.set_defaults(handler=lambda args: import_coverage(args.file, args.url))


@dataclass(frozen=True)
class Part:
    """A request body, the number of records in it, and for each of its lines the file's line."""

    text: str
    records: int
    lines: list[int]


def roster_parts(text: str, *, is_csv: bool, limit: int = PART_BYTES) -> list[Part]:
    """Line chunks under `limit` bytes; a CSV part repeats the header as its line 1."""
    lines = text.splitlines(keepends=True)
    header, first = (lines[:1], 2) if is_csv else ([], 1)
    parts: list[Part] = []
    chunk: list[str] = []
    numbers: list[int] = []
    size = sum(len(h.encode()) for h in header)
    for number, line in enumerate(lines[len(header) :], start=first):
        if chunk and size + len(line.encode()) > limit:
            parts.append(Part("".join(header + chunk), len(chunk), [1] * len(header) + numbers))
            chunk, numbers, size = [], [], sum(len(h.encode()) for h in header)
        chunk.append(line)
        numbers.append(number)
        size += len(line.encode())
    if chunk:
        parts.append(Part("".join(header + chunk), len(chunk), [1] * len(header) + numbers))
    return parts


class NotSplittable(ValueError):
    pass


def enrolment_parts(text: str, *, limit: int = PART_BYTES) -> list[Part]:
    """An 834 split between member loops into interchanges under `limit` bytes each.

    A file under the limit is sent whole, as it is. A bigger one is split only when it holds one
    functional group with one transaction set (the usual 834); otherwise `NotSplittable`."""
    if not text.startswith("ISA") or len(text) < 106:
        return [Part(text, 0, [])]
    terminator = text[105]
    segments: list[tuple[str, int]] = []
    line = 1
    for raw in text.split(terminator):
        lead = len(raw) - len(raw.lstrip("\r\n"))
        if stripped := raw.strip("\r\n"):
            segments.append((stripped, line + raw[:lead].count("\n")))
        line += raw.count("\n")
    separator = text[3]
    ids = [s.split(separator, 1)[0] for s, _ in segments]
    if len(text.encode()) <= limit:
        return [Part(text, ids.count("INS"), [])]
    if ids.count("ST") != 1 or ids.count("GS") != 1 or "INS" not in ids or ids[-3:] != list(TRAILERS):
        raise NotSplittable("only an 834 with one GS and one ST can be split")
    st, first_ins, se = ids.index("ST"), ids.index("INS"), len(ids) - 3
    envelope, header = segments[:st], segments[st:first_ins]
    loops: list[list[tuple[str, int]]] = []
    for seg, seg_id in zip(segments[first_ins:se], ids[first_ins:se], strict=True):
        if seg_id == "INS":
            loops.append([])
        loops[-1].append(seg)
    se_fields = segments[se][0].split(separator)
    trailer = segments[se + 1 :]
    fixed = sum(len(s) + 2 for s, _ in envelope + header + segments[se:])
    parts: list[Part] = []
    chunk: list[list[tuple[str, int]]] = []
    size = fixed
    for loop in loops:
        loop_size = sum(len(s) + 2 for s, _ in loop)
        if chunk and size + loop_size > limit:
            parts.append(
                _interchange(
                    envelope, header, chunk, se_fields, segments[se][1], trailer, separator, terminator
                )
            )
            chunk, size = [], fixed
        chunk.append(loop)
        size += loop_size
    parts.append(
        _interchange(envelope, header, chunk, se_fields, segments[se][1], trailer, separator, terminator)
    )
    return parts


def _interchange(
    envelope: list[tuple[str, int]],
    header: list[tuple[str, int]],
    loops: list[list[tuple[str, int]]],
    se_fields: list[str],
    se_line: int,
    trailer: list[tuple[str, int]],
    separator: str,
    terminator: str,
) -> Part:
    body = header + [seg for loop in loops for seg in loop]
    se = separator.join(["SE", str(len(body) + 1), *se_fields[2:]])
    segments = envelope + body + [(se, se_line)] + trailer
    return Part("".join(f"{s}{terminator}\n" for s, _ in segments), len(loops), [n for _, n in segments])


def _explain(error: dict, part: Part) -> str:
    """An error of one part, with the file's line number instead of the part's."""
    line = error.get("line")
    if isinstance(line, int) and 0 < line <= len(part.lines):
        line = part.lines[line - 1]
    where = f"line {line}" if line else "file"
    field = error.get("field") or error.get("segment") or "line"
    return f"{where}: {field}: {error.get('reason')}"


def import_coverage(path: Path, url: str, *, part_bytes: int = PART_BYTES) -> int:
    if not path.is_file():
        print(f"hearth coverage import: no file at {path}", file=sys.stderr)
        return 1
    import httpx
    from tqdm import tqdm

    from hearth_devstack.tokens import bearer_headers

    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8-sig")
    if suffix in X12_SUFFIXES:
        route, content_type, unit = "/x12/834", "application/edi-x12", "member"
        try:
            parts = enrolment_parts(text, limit=part_bytes)
        except NotSplittable as why:
            print(f"hearth coverage import: the file is over {part_bytes} bytes and {why}", file=sys.stderr)
            return 1
    elif suffix in (".csv", ".ndjson", ".jsonl"):
        is_csv = suffix == ".csv"
        route, unit = "/coverage/import", "line"
        content_type = "text/csv" if is_csv else "application/x-ndjson"
        parts = roster_parts(text, is_csv=is_csv, limit=part_bytes)
    else:
        print("hearth coverage import: use a .csv, .ndjson, .834, .x12 or .edi file", file=sys.stderr)
        return 1
    totals: dict[str, int] = {}
    with (
        httpx.Client(timeout=600, headers=bearer_headers()) as client,
        tqdm(total=sum(p.records for p in parts), unit=unit) as bar,
    ):
        for number, part in enumerate(parts, start=1):
            response = client.post(
                f"{url}{route}", content=part.text.encode(), headers={"content-type": content_type}
            )
            if response.status_code != 200:
                bar.close()
                body = response.json() if "json" in response.headers.get("content-type", "") else {}
                print(
                    f"hearth coverage import: part {number} of {len(parts)} was refused "
                    f"({response.status_code}): {body.get('message', response.text)}",
                    file=sys.stderr,
                )
                for error in body.get("detail") or []:
                    print(f"  {_explain(error, part)}", file=sys.stderr)
                if number > 1:
                    print(
                        f"  parts 1-{number - 1} are loaded; re-sending them changes nothing", file=sys.stderr
                    )
                return 2
            for key, value in response.json().items():
                if isinstance(value, int):
                    totals[key] = totals.get(key, 0) + value
            bar.update(part.records)
    print(", ".join(f"{key} {value}" for key, value in totals.items()) + f" ({len(parts)} requests)")
    return 0
