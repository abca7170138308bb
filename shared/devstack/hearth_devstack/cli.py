"""The `hearth` command: the operator contract's entry point (`make up` runs `hearth up`, ...).

One subparser per command, each bound to a handler that returns the exit code. The stack
commands live here; every other command group lives in its own module listed in
`COMMAND_MODULES`, which exposes `register(commands)` and imports its heavy dependencies inside
the handler, so that `hearth down` stays fast and works while a service package is broken.
"""

from __future__ import annotations

import argparse
import importlib
import io
import logging
import sys
from collections.abc import Sequence

from hearth_devstack import stack

#: Modules that add `hearth` commands: each has `register(commands)`, commands being the
#: subparsers action of the top-level parser.
COMMAND_MODULES = (
    "hearth_devstack.referral_import",
    "hearth_devstack.month_close",
    "hearth_devstack.tokens",
    "hearth_devstack.claims_import",
    "hearth_devstack.coverage_import",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hearth", description="Run Hearth on this machine.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="start Postgres, the broker and the services in the background")
    up.add_argument(
        "--only-infra", action="store_true", help="start Postgres and the broker only, no services"
    )
    up.set_defaults(handler=lambda args: stack.up(_layout(), only_infra=args.only_infra))

    down = commands.add_parser("down", help="stop everything `hearth up` started; data stays in .hearth/")
    down.set_defaults(handler=lambda args: stack.down(_layout()))

    status = commands.add_parser("status", help="show each component's pid, liveness and health")
    status.set_defaults(handler=lambda args: stack.status(_layout()))

    demo = commands.add_parser("demo", help="run the synthetic-population demo against the running stack")
    # Its options (`--members`, `--seed`, ...) are the demo's own: main() passes them on.
    demo.set_defaults(handler=_demo, args=[])

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if args.handler is not _demo:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.args = extra
    try:
        return int(args.handler(args) or 0)
    except stack.StackError as exc:
        print(f"hearth {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _layout() -> stack.Layout:
    return stack.Layout(stack.find_root())


def _demo(args: argparse.Namespace) -> int:
    """Runs `hearth_devstack.demo.main(argv)`, which may return an exit code."""
    try:
        demo = importlib.import_module("hearth_devstack.demo")
    except ModuleNotFoundError as exc:
        if exc.name != "hearth_devstack.demo":
            raise
        print("hearth demo: not available yet (hearth_devstack/demo.py is missing)", file=sys.stderr)
        return 2
    return int(demo.main(list(args.args)) or 0)


if __name__ == "__main__":
    sys.exit(main())
