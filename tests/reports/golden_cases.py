"""The report commands whose output on the fleet (fleet.py) is kept in golden/, as the
non-streaming reader produced it: the streaming one must give the same (numbers to 1e-9).
When an output's format changes on purpose, regenerate that file (as focus.csv was for FOCUS
1.2): ``python -m tests.reports.golden_cases DIR`` writes them all to DIR."""

from __future__ import annotations

import re

CASES: dict[str, tuple[str, ...]] = {
    "report.json": ("report", "--json"),
    "report_team_model.json": ("report", "--json", "--by", "team,model"),
    "report.csv": ("report", "--csv", "--by", "team,model,environment"),
    "report.txt": ("report",),
    "focus.csv": ("report", "--format", "focus"),
    "idle.json": ("idle", "--json", "--now", "2025-04-20T00:00:00Z", "--days", "3"),
    "anomalies.json": ("anomalies", "--json", "--now", "2025-03-31T00:00:00Z",
                       "--by", "team"),
}


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalize(text: str, path: str) -> str:
    """The input file's path (a temporary folder) and the processes' random instance ids
    replaced by fixed names."""
    return _UUID.sub("<UUID>", text.replace(path, "<FILE>"))


if __name__ == "__main__":  # regenerate: python -m tests.reports.golden_cases tests/reports/golden
    import contextlib
    import io
    import sys
    import tempfile
    from pathlib import Path

    from mlcost_sdk.cli import main

    from .fleet import write_fleet

    with tempfile.TemporaryDirectory() as folder:
        fleet = Path(folder) / "mlcost-spans.jsonl"
        write_fleet(fleet)
        for name, (command, *flags) in CASES.items():
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                assert main([command, str(fleet), *flags]) == 0
            (Path(sys.argv[1]) / name).write_text(normalize(out.getvalue(), str(fleet)))
