"""`hearth claims import FILE`: stream a claims file (CSV with a header row, layout in
services/referral/hearth_referral/claims_layout.py) to the referral service, which COPYs it into
Postgres in one transaction and runs case-finding over the members it touched. The body is sent
chunked, with a progress bar over the file's bytes."""

import argparse
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

CHUNK_BYTES = 1 << 20


def register(commands: argparse._SubParsersAction) -> None:
    claims = commands.add_parser("claims", help="feed claims to case-finding")
    claim_commands = claims.add_subparsers(dest="claims_command", required=True, metavar="COMMAND")
    import_file = claim_commands.add_parser("import", help="import a claims CSV and run case-finding")
    import_file.add_argument("file", type=Path, help="a .csv claims file with a header row")
    import_file.add_argument("--as-of", type=date.fromisoformat, default=None, help="score as of this day")
    import_file.add_argument("--url", default="http://127.0.0.1:8001", help="the referral service")
    import_file.set_defaults(handler=lambda args: import_claims(args.file, args.url, args.as_of))


def import_claims(path: Path, url: str, as_of: date | None) -> int:
    if not path.is_file():
        print(f"hearth claims import: no file at {path}", file=sys.stderr)
        return 1
    import httpx
    from tqdm import tqdm

    from hearth_devstack.tokens import bearer_headers

    with tqdm(total=path.stat().st_size, unit="B", unit_scale=True) as bar:

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as f:
                while chunk := f.read(CHUNK_BYTES):
                    bar.update(len(chunk))
                    yield chunk

        params = {"as_of": as_of.isoformat()} if as_of else {}
        with httpx.Client(timeout=None, headers=bearer_headers()) as client:
            response = client.post(
                f"{url}/claims/import", params=params, content=chunks(), headers={"content-type": "text/csv"}
            )
    if response.status_code != 200:
        print(f"hearth claims import: {response.status_code} {response.text}", file=sys.stderr)
        return 1
    body = response.json()
    print(
        f"lines {body['lines']}, accepted {body['accepted']}, rejected {body['rejected']}, "
        f"referred {body['referred']} (rules {body['rule_set_version']}, as of {body['as_of']})"
    )
    for error in body["errors"]:
        print(f"  line {error['line']}: {error['reason']}")
    return 0 if not body["rejected"] else 2
