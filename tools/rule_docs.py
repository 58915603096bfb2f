"""Write the rule tables of docs/rules.md from the rule catalog (``make rule-docs``).

Each table sits between ``<!-- rule table: <kind> -->`` and ``<!-- end rule table -->``; the
text around them is the docs' own. ``--check`` only says whether the file is current (a test
runs it), so the tables never drift from the catalog.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from iepwatch.rules import catalog

DOC = Path(__file__).resolve().parents[1] / "docs" / "rules.md"
TABLE = re.compile(r"(<!-- rule table: (\w+) -->\n).*?(<!-- end rule table -->)", re.DOTALL)


def render(text: str) -> str:
    return TABLE.sub(lambda m: m.group(1) + catalog.docs_table(m.group(2)) + m.group(3), text)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m tools.rule_docs", description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail when docs/rules.md is not current")
    args = ap.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    new = render(text)
    if args.check:
        if new != text:
            sys.exit(f"{DOC} is not current with the rule catalog: run make rule-docs")
        return
    DOC.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main()
