"""`hearth referrals import FILE`: send a referral list (CSV with a header, or NDJSON) to the
referral service in chunks under the request size limit, with a progress bar, and report every bad
line with its line number in the file."""

import argparse
import sys
from pathlib import Path

CHUNK_LINES = 2000


def register(commands: argparse._SubParsersAction) -> None:
    referrals = commands.add_parser("referrals", help="work with the referral service")
    referral_commands = referrals.add_subparsers(dest="referrals_command", required=True, metavar="COMMAND")
    import_list = referral_commands.add_parser("import", help="import a referral list (CSV or NDJSON)")
    import_list.add_argument(
        "file", type=Path, help="a .csv file with a header row, or NDJSON (one referral a line)"
    )
    import_list.add_argument("--url", default="http://127.0.0.1:8001", help="the referral service")
    import_list.set_defaults(handler=lambda args: import_referrals(args.file, args.url))


def _chunks(lines: list[str], is_csv: bool) -> list[tuple[int, str]]:
    """(number of the chunk's first data line in the file, the chunk's text)."""
    header, body, first = (lines[0], lines[1:], 2) if is_csv else ("", lines, 1)
    chunks = []
    for start in range(0, len(body), CHUNK_LINES):
        text = "".join(body[start : start + CHUNK_LINES])
        chunks.append((first + start, header + text if is_csv else text))
    return chunks


def import_referrals(path: Path, url: str) -> int:
    if not path.is_file():
        print(f"hearth referrals import: no file at {path}", file=sys.stderr)
        return 1
    import httpx
    from tqdm import tqdm

    from hearth_devstack.tokens import bearer_headers

    is_csv = path.suffix.lower() == ".csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    content_type = "text/csv" if is_csv else "application/x-ndjson"
    imported = linked = 0
    errors: list[str] = []
    with (
        httpx.Client(timeout=120, headers=bearer_headers()) as client,
        tqdm(total=len(lines) - int(is_csv), unit="line") as bar,
    ):
        for first_line, text in _chunks(lines, is_csv):
            response = client.post(
                f"{url}/referrals/import", content=text.encode(), headers={"content-type": content_type}
            )
            if response.status_code != 200:
                print(f"hearth referrals import: {response.status_code} {response.text}", file=sys.stderr)
                return 1
            body = response.json()
            imported += body["imported"]
            linked += body["linked_to_open_referral"]
            # The service numbers lines within the chunk (a CSV chunk's header is its line 1).
            offset = first_line - (2 if is_csv else 1)
            errors += [
                f"line {e['line'] + offset}: {e['field'] or 'line'}: {e['reason']}" for e in body["errors"]
            ]
            bar.update(text.count("\n") - int(is_csv))
    print(f"imported {imported}, linked to an open referral {linked}, lines with errors {len(errors)}")
    for error in errors:
        print(f"  {error}")
    return 0 if not errors else 2
