"""`hearth month close YYYY-MM`: close a billing month from the command line, with a progress bar,
and print the invoices it issued (organization, number of lines, total).

The close itself is one request to billing (`POST /months/{month}/close`, idempotent: a closed
month answers with the invoices of its first close); the bar then follows the reading of each
invoice. Exit codes: 0 closed (or already closed), 1 refused or unreachable.
"""

import argparse
import re
import sys
from typing import Any

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _month(text: str) -> str:
    if not _MONTH.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a month written YYYY-MM")
    return text


def register(commands: argparse._SubParsersAction) -> None:
    month = commands.add_parser("month", help="billing months: close a month and issue its invoices")
    month_commands = month.add_subparsers(dest="month_command", required=True, metavar="COMMAND")
    close = month_commands.add_parser("close", help="close a month: one invoice per provider organization")
    close.add_argument("month", type=_month, help="the calendar month, YYYY-MM")
    close.add_argument("--url", default="http://127.0.0.1:8003", help="the billing service")
    close.add_argument("--lines", action="store_true", help="print every invoice line as well")
    close.set_defaults(handler=lambda args: close_month(args.month, args.url, show_lines=args.lines))


def close_month(month: str, url: str, *, show_lines: bool = False) -> int:
    import httpx
    from tqdm import tqdm

    from hearth_devstack.tokens import bearer_headers

    invoices: list[dict[str, Any]] = []
    try:
        with (
            httpx.Client(timeout=600, headers=bearer_headers()) as client,
            tqdm(total=1, unit="step", desc=f"closing {month}") as bar,
        ):
            response = client.post(f"{url}/months/{month}/close")
            if response.status_code not in (200, 201):
                bar.close()
                print(f"hearth month close: {response.status_code} {_reason(response)}", file=sys.stderr)
                return 1
            closed = response.json()
            bar.update(1)
            bar.total = 1 + len(closed["invoice_ids"])
            bar.set_description(f"reading {len(closed['invoice_ids'])} invoice(s)")
            bar.refresh()
            for invoice_id in closed["invoice_ids"]:
                got = client.get(f"{url}/invoices/{invoice_id}")
                got.raise_for_status()
                invoices.append(got.json())
                bar.update(1)
    except httpx.HTTPError as exc:
        print(f"hearth month close: cannot reach billing at {url}: {exc}", file=sys.stderr)
        return 1
    state = "closed" if response.status_code == 201 else "was already closed"
    print(
        f"{month} {state}: {len(invoices)} invoice(s), {closed['member_months']} member-month(s), "
        f"total {closed['total_amount']}"
    )
    width = max([len("organization")] + [len(i["provider_org_id"]) for i in invoices])
    print(f"{'organization'.ljust(width)}  {'lines':>7}  {'total':>14}  invoice")
    for invoice in sorted(invoices, key=lambda i: i["provider_org_id"]):
        print(
            f"{invoice['provider_org_id'].ljust(width)}  {invoice['line_count']:>7}  "
            f"{invoice['total_amount']:>14}  {invoice['invoice_id']}"
        )
        if show_lines:
            for line in invoice["lines"]:
                print(
                    f"    {line['kind']:<15} {line['member_id'] or '-':<24} {line['tier'] or '-':<10} "
                    f"{line['service_date']}  {line['amount']:>12}"
                )
    return 0


def _reason(response: Any) -> str:
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return str(response.text)
