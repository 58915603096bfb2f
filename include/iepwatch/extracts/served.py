"""Which nights' extracts are served: a night's every format is published first, then the night
is marked served in one step (``<extracts_dir>/.served/<as-of>.json``, written last, removed
first when the night is published again). Readers (the page, run health, ``make nightly``'s
summary) show the extracts of served nights only, so a night stopped part-way through its
formats (killed, a format rejected) never shows some formats of one night beside the others
of the night before."""

from __future__ import annotations

from pathlib import Path

SERVED = ".served"


def _marker(extracts_dir: Path, as_of: str) -> Path:
    return extracts_dir / SERVED / f"{as_of}.json"


def unserve(extracts_dir: Path, as_of: str) -> None:
    """Before a night's formats are (re)published: its extracts are not served until all are."""
    _marker(extracts_dir, as_of).unlink(missing_ok=True)


def serve(extracts_dir: Path, as_of: str, formats: list[str]) -> Path:
    """Every format of the night is published: the night is served (one atomic rename)."""
    from iepwatch.files import write_json

    return write_json(_marker(extracts_dir, as_of), {"as_of": as_of, "formats": sorted(formats)})


def is_served(extracts_dir: Path, as_of: str) -> bool:
    return _marker(extracts_dir, as_of).is_file()


def manifests(extracts_dir: Path, as_of: str | None = None) -> list[Path]:
    """The manifests of the served nights' formats (of one night, or every night)."""
    return [m for m in extracts_dir.glob(f"*/{as_of or '*'}/manifest.json")
            if is_served(extracts_dir, m.parent.name)]

