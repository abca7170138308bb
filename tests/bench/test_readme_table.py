"""`make bench` rewrites the README's table from every recorded benchmark, keeping the rest of the
README and the rows of benchmarks not run this time."""

from pathlib import Path

import pytest

from bench import readme_table

MACHINE = {
    "date": "2026-11-24T01:02:03+00:00",
    "cpus": 2,
    "python": "3.11.7",
    "platform": "Linux-x86_64",
    "postgres": "embedded PostgreSQL 18",
    "broker": "Tansu",
}


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(readme_table, "TABLE", tmp_path / "table.json")
    readme = tmp_path / "README.md"
    readme.write_text(f"# Hearth\nintro\n{readme_table.BEGIN}\nold table\n{readme_table.END}\nafter\n")
    return readme


def test_a_rerun_of_one_benchmark_replaces_its_rows_and_keeps_the_others(recorded: Path) -> None:
    readme_table.record("import", [("import", "3,979/s", "-", ">= 20,000/s", "no")], MACHINE, 0.5)
    readme_table.record("http", [("POST", "900/s", "bare 4,464/s", ">= 0.25", "no")], MACHINE, 1.0)
    readme_table.record("import", [("import", "21,000/s", "-", ">= 20,000/s", "yes")], MACHINE, 0.4)

    readme_table.update_readme(["http", "import"], recorded)

    text = recorded.read_text()
    assert text.startswith("# Hearth\nintro\n") and text.endswith("after\n")
    assert "old table" not in text and "3,979/s" not in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert [r.split(" | ")[0] for r in rows] == ["| benchmark", "| POST", "| import"]
    assert "| 21,000/s | - | >= 20,000/s | yes | 2026-11-24 01:02, 0.4-" in rows[2]
    assert "Machine: 2 cores, Linux-x86_64, Python 3.11.7" in text


def test_a_row_without_a_met_column_gets_an_empty_one(recorded: Path) -> None:
    readme_table.record("kafka", [("raw consume", "150,000/s", "-", "-")], MACHINE, 0.2)
    readme_table.update_readme(["kafka"], recorded)
    assert "| raw consume | 150,000/s | - | - |  | 2026-11-24 01:02" in recorded.read_text()


def test_a_readme_without_the_markers_is_refused(recorded: Path) -> None:
    recorded.write_text("# Hearth\n")
    with pytest.raises(SystemExit, match="markers"):
        readme_table.update_readme([], recorded)
