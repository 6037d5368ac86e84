"""Reading what an example wrote to its JSONL file, as a user's tooling would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlcost_sdk import conventions as c


def final_run_spans(path: Path) -> list[dict[str, Any]]:
    """The training runs' own spans: not their windows, nor the cost checkpoints a run longer
    than one ledger window writes (how many there are depends on how loaded the machine is)."""
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if r["attributes"].get(c.KIND) == c.KIND_TRAINING_RUN
            and c.RECORD not in r["attributes"]]
