#!/usr/bin/env python3
"""Print a Docker secret for Airflow's ``*_CMD`` settings, without its trailing newline.

    bw-secret NAME                       the content of /run/secrets/NAME
    bw-secret NAME --url TEMPLATE        TEMPLATE with {password} replaced by the URL-quoted secret
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import quote

SECRETS = Path("/run/secrets")


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 3) or (len(argv) == 3 and argv[1] != "--url"):
        print(__doc__, file=sys.stderr)
        return 2
    path = SECRETS / argv[0]
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        print(f"secret {path} cannot be read: {exc.strerror}", file=sys.stderr)
        return 1
    if not value:
        print(f"secret {path} is empty", file=sys.stderr)
        return 1
    sys.stdout.write(argv[2].replace("{password}", quote(value, safe="")) if len(argv) == 3 else value)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
