"""The README's benchmark table, written by `make bench`.

Each full-size benchmark run records its rows in bench/results/table.json under its name, with the
date, the machine and the load average it ran under; the README's table is rebuilt from every
recorded benchmark, so `--only NAME` refreshes that benchmark's rows and keeps the others (each row
says when it was measured). `--quick` runs are smoke runs and record nothing."""

import json
import os
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
TABLE = RESULTS / "table.json"
README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- bench:begin (written by `make bench`; edit bench/readme_table.py, not this table) -->"
END = "<!-- bench:end -->"

#: (benchmark, result, baseline (same run), target[, met])
Row = tuple[str, ...]


def met(condition: bool) -> str:
    return "yes" if condition else "no"


def load_average() -> float:
    return round(os.getloadavg()[0], 1)


def record(name: str, rows: list[Row], machine: dict[str, Any], load_before: float) -> None:
    """Keep `name`'s rows from this run; the load is the 1-minute average before and after it."""
    table = json.loads(TABLE.read_text()) if TABLE.exists() else {}
    table[name] = {
        "machine": machine,
        "load": [load_before, load_average()],
        "rows": [list(row) for row in rows],
    }
    RESULTS.mkdir(exist_ok=True)
    TABLE.write_text(json.dumps(table, indent=2) + "\n")


def render(order: list[str]) -> str:
    """The markdown table of every recorded benchmark, in `order` (then any others)."""
    table: dict[str, Any] = json.loads(TABLE.read_text()) if TABLE.exists() else {}
    names = [n for n in order if n in table] + sorted(set(table) - set(order))
    machines = {json.dumps(_machine_without_date(table[n]["machine"]), sort_keys=True) for n in names}
    lines = []
    for described in sorted(machines):
        m = json.loads(described)
        lines.append(
            f"Machine: {m['cpus']} cores, {m['platform']}, Python {m['python']}; {m['postgres']}; "
            f"{m['broker']}."
        )
    lines += [
        "",
        "| benchmark | result | baseline (same run) | target | met | measured (UTC), load avg |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        entry = table[name]
        when = entry["machine"]["date"].replace("T", " ")[:16]
        load = "-".join(f"{x:g}" for x in entry["load"])
        for row in entry["rows"]:
            cells = [*row, ""][:5] if len(row) < 5 else row[:5]
            lines.append("| " + " | ".join([*map(_cell, cells), f"{when}, {load}"]) + " |")
    return "\n".join(lines)


def update_readme(order: list[str], readme: Path = README) -> None:
    """Replace the table between the markers in the README (the markers must be there once)."""
    text = readme.read_text()
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise SystemExit(f"{readme}: the benchmark table markers are missing or repeated")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    readme.write_text(f"{head}{BEGIN}\n{render(order)}\n{END}{tail}")


def _machine_without_date(machine: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in machine.items() if k != "date"}


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")
