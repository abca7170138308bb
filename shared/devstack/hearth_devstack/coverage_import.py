"""`hearth coverage import FILE`: load a coverage roster (.csv, .ndjson) or an 834 enrolment file
(.834, .x12, .edi) into the eligibility service, with a progress bar.

The eligibility service takes bulk bodies on its load routes (see its `bulk_paths`: 256 MiB for
/x12/834, 64 MiB for /coverage/import), so an 834 travels whole, in ONE request, and loads
all-or-nothing: an interchange is one unit for its sender and must not be cut. A roster under
the roster limit is one request too; only a bigger one travels in line chunks under its header,
each loading whole or not at all; the import stops at the first refused chunk, and the chunks
before it stay loaded. Sending the corrected file again is safe: lines already in effect count as
unchanged.
"""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

#: The eligibility service's body limit for /coverage/import, less room for nothing else: a
#: roster up to this size is one request.
ROSTER_BYTES = 64 * 2**20
X12_SUFFIXES = (".834", ".x12", ".edi")


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


def roster_parts(text: str, *, is_csv: bool, limit: int = ROSTER_BYTES) -> list[Part]:
    """The roster whole when under `limit` bytes, else line chunks under `limit` bytes; a CSV
    part repeats the header as its line 1."""
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


def _explain(error: dict, part: Part) -> str:
    """An error of one part, with the file's line number instead of the part's."""
    line = error.get("line")
    if isinstance(line, int) and 0 < line <= len(part.lines):
        line = part.lines[line - 1]
    where = f"line {line}" if line else "file"
    field = error.get("field") or error.get("segment") or "line"
    return f"{where}: {field}: {error.get('reason')}"


def enrolment_file(text: str) -> Part:
    """The 834 as it is, one request; its records are its member (INS) loops."""
    if text.startswith("ISA") and len(text) >= 106:
        separator, terminator = text[3], text[105]
        loops = sum(1 for seg in text.split(terminator) if seg.strip("\r\n").startswith(f"INS{separator}"))
    else:
        loops = 0  # not X12: the service names the problem
    return Part(text, loops, [])


def enrolment_parts(text: str) -> list[Part]:
    """The requests an 834 travels in: always one, the file whole (for callers that send parts,
    e.g. the eligibility benchmark)."""
    return [enrolment_file(text)]


def import_coverage(path: Path, url: str, *, roster_bytes: int = ROSTER_BYTES) -> int:
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
        parts = enrolment_parts(text)
    elif suffix in (".csv", ".ndjson", ".jsonl"):
        is_csv = suffix == ".csv"
        route, unit = "/coverage/import", "line"
        content_type = "text/csv" if is_csv else "application/x-ndjson"
        parts = roster_parts(text, is_csv=is_csv, limit=roster_bytes)
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
