#!/usr/bin/env python3
"""Print .ci/constraints.txt: the installed version of everything `mlcost-sdk[dev]` pulls in.

Run it in an environment where the suite has just passed:
    python3 .ci/constraints.py > .ci/constraints.txt
"""

from __future__ import annotations

import importlib.metadata as md

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HEADER = """\
# Exact versions CI installs with the dev extra (.ci/run: pip install -c .ci/constraints.txt
# -e ".[dev]"), so a fresh environment gets what the suite last passed with. Regenerate after
# a green run on new versions: python3 .ci/constraints.py > .ci/constraints.txt"""

# setuptools comes from the build-system table, not from here; torch is pinned in pyproject
# and a CPU build's local label (+cpu) must not leak into a pin.
NOT_PINNED = {"setuptools", "mlcost-sdk"}


def closure(name: str, extras: tuple[str, ...], seen: dict[str, str]) -> None:
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        return  # a platform-specific requirement this machine does not need
    key = canonicalize_name(name) + "[" + ",".join(sorted(extras)) + "]"
    if key in seen:
        return
    seen[key] = dist.version
    for line in dist.requires or []:
        req = Requirement(line)
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in extras or ("",)):
            continue
        closure(req.name, tuple(req.extras), seen)


def main() -> None:
    seen: dict[str, str] = {}
    closure("mlcost-sdk", ("dev",), seen)
    pins = {key.split("[")[0]: version.split("+")[0] for key, version in seen.items()}
    print(HEADER)
    for name in sorted(set(pins) - NOT_PINNED):
        print(f"{name}=={pins[name]}")


if __name__ == "__main__":
    main()
