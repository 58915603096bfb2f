"""The task of ``iepwatch_rollup``: the deployment's roll-up of one night (``iepwatch.deployment.rollup``)."""

from __future__ import annotations

import logging
from datetime import date

from iepwatch.tasks import fail_fast

log = logging.getLogger(__name__)


@fail_fast
def build_rollup(params: dict | None = None) -> dict:
    """The ``as_of`` param's night, else the newest night every district has published."""
    from iepwatch.deployment import districts, rollup
    from iepwatch.errors import DataError

    dep = districts.load()
    as_of = (params or {}).get("as_of")
    night = date.fromisoformat(as_of) if as_of else rollup.latest_complete(dep)
    if night is None:
        raise DataError("no night has been published by every district yet; each district's newest night: "
                        + ", ".join(f"{d} {max(n) if n else 'none'}" for d, n in sorted(rollup.nights(dep).items())))
    folder = rollup.build(dep, night)
    log.info("roll-up of %s for %d districts written to %s", night, len(dep.districts), folder)
    return {"as_of": night.isoformat(), "districts": len(dep.districts)}
