"""Re-runs and backfills: an older night never replaces a newer published one, history stays what an
in-order run gives, a backfill sends no email, and "new" in an email means never emailed to that recipient."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from builder import Export
from helpers import run_night_in_process

from iepwatch.night import Night

N20, N21, N22 = date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)


def export_of(day: date, tmp_path) -> object:
    """The district as the student system knows it on ``day`` (evaluations complete as time goes by)."""
    ex = Export.district()

    def referred(sid: str, consent: date, completed: date | None = None):
        ex.student(sid, sped="referred")
        ex.evaluation(sid, consent=consent, completed=completed if completed and completed <= day else None,
                      outcome="pending")

    referred("A", date(2026, 9, 26))                          # due 11-25: due soon on every night
    referred("B", date(2026, 10, 6))                          # due 12-05: due soon from 11-21 on
    referred("C", date(2026, 10, 1), completed=N22)           # due soon 20 and 21, done on 22: resolved on 22
    referred("D", date(2026, 10, 1), completed=N21)           # due soon on 20, done on 21: resolved on 21
    ex.student("V", school="SCH1")
    ex.meeting("V", held=date(2026, 10, 1), kind="annual", notice=False)      # NOTICE_MISSING every night
    if day >= N21:
        ex.student("W", school="SCH1")
        ex.meeting("W", held=N21, kind="annual", notice=False)                # NOTICE_MISSING from 11-21 on
    return ex.write(tmp_path / f"export-{day}")


def history(data_dir) -> dict:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return {
            "exceptions": con.execute("SELECT * FROM compliance.exceptions ORDER BY ALL").fetchall(),
            "resolved": con.execute("SELECT * FROM compliance.resolved ORDER BY ALL").fetchall(),
            "published": con.execute("SELECT as_of FROM core.export").fetchone()[0],
        }
    finally:
        con.close()


def digests(smtp) -> dict[str, list]:
    by_night: dict[str, list] = {}
    for m in smtp.messages():
        by_night.setdefault(m["X-IEPWatch-As-Of"], []).append(m)
    return by_night


def text_of(msg) -> str:
    return next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()


@pytest.fixture
def in_order(tmp_path_factory):
    """The same three nights run in order, in a data folder of their own: what history must equal."""
    data = tmp_path_factory.mktemp("in-order") / "data"
    exports = tmp_path_factory.mktemp("exports")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IEPWATCH_DATA_DIR", str(data))
        mp.delenv("IEPWATCH_CONFIG", raising=False)
        for day in (N20, N21, N22):
            run_night_in_process(export_of(day, exports), day)
    return history(data), (data / "runs" / str(N22) / "exceptions.csv").read_bytes(), summary_counts(data, N22)


def summary_counts(data, day: date) -> tuple:
    """What the page counts from a night's summary.json: exceptions and resolutions."""
    import json

    s = json.loads((data / "runs" / str(day) / "summary.json").read_text())
    return s["counts"], s["resolved"]


def test_backfill_20_22_21_then_20_again_leaves_the_history_of_an_in_order_run(in_order, data_dir, tmp_path,
                                                                             settings, smtp):
    from airflow.sdk.exceptions import AirflowFailException

    settings({})
    expected, expected_csv22, expected_summary22 = in_order
    run_night_in_process(export_of(N20, tmp_path), N20, emails=True)
    run_night_in_process(export_of(N22, tmp_path), N22, emails=True)
    sent = digests(smtp)
    assert set(sent) == {str(N20), str(N22)}
    (night22,) = sent[str(N22)]
    text22 = text_of(night22)
    assert "- W ?. [NEW]" in text22 or "- W A.L. [NEW]" in text22, "W's violation: never emailed, so new"
    assert "- V " not in text22, "V's violation was emailed on the 20th: not listed again"

    with pytest.raises(AirflowFailException, match=r"DATA ERROR: 2026-11-21 is older than the published night "
                                                   r"2026-11-22: .* backfill=true"):
        run_night_in_process(export_of(N21, tmp_path), N21)
    assert history(data_dir)["published"] == N22

    run_night_in_process(export_of(N21, tmp_path), N21, emails=True, backfill=True)
    after = history(data_dir)
    assert after["published"] == N22, "a backfill never replaces the published night"
    assert after == expected, "history is what the in-order run gives"
    assert (data_dir / "runs" / str(N22) / "exceptions.csv").read_bytes() == expected_csv22
    assert summary_counts(data_dir, N22) == expected_summary22, "the later night's summary follows (the page's trend)"
    assert set(digests(smtp)) == {str(N20), str(N22)}, "the backfill sent no email"

    run_night_in_process(export_of(N20, tmp_path), N20, emails=True, backfill=True)
    assert history(data_dir) == expected, "re-running the oldest night changes nothing"
    assert sum(len(v) for v in digests(smtp).values()) == len(sent[str(N20)]) + 1, "and sends nothing"


def test_first_detected_and_resolved_across_the_three_nights(in_order):
    expected, _, _ = in_order
    first = {(r[1], r[4], r[2], r[0]): r[12] for r in expected["exceptions"]}   # (rule, student, status, as_of)
    assert first[("EVAL_60_DAY", "B", "due_soon", N22)] == N21
    assert first[("EVAL_60_DAY", "A", "due_soon", N22)] == N20
    resolved = {(r[0], r[2]) for r in expected["resolved"]}
    assert (N21, "D") in resolved and (N22, "C") in resolved and (N22, "D") not in resolved


def test_state_reporting_refuses_another_nights_data(data_dir, tmp_path, settings):
    from airflow.sdk.exceptions import AirflowFailException

    from iepwatch.tasks import state_reporting as sr

    settings({})
    run_night_in_process(export_of(N22, tmp_path), N22)
    with pytest.raises(AirflowFailException, match=r"the published data is the night of 2026-11-22, not 2026-11-21"):
        sr.prepare_facts(Night(N21))
    with pytest.raises(AirflowFailException, match="another export of the night was published since"):
        sr.prepare_facts(Night(N22, export_id="0" * 16))
    assert sr.prepare_facts(Night(N22))


def test_a_backfill_event_does_not_build_extracts():
    from airflow.sdk.exceptions import AirflowSkipException

    from iepwatch.tasks import state_reporting as sr

    class Event:
        extra = {"as_of": str(N21), "export_id": "x", "backfill": True}

    with pytest.raises(AirflowSkipException, match="was a backfill"):
        sr.resolve_as_of(params={}, triggering_asset_events={"compliance": [Event()]})
    Event.extra = {"as_of": str(N22), "export_id": "y", "backfill": False}
    assert sr.resolve_as_of(params={}, triggering_asset_events={"compliance": [Event()]}) == Night(N22, export_id="y")


def test_a_night_run_by_make_nightly_is_not_built_again_by_a_scheduler_beside_it():
    """make nightly builds the extracts itself: its night's event says so, and the scheduler's
    asset-triggered state_reporting skips it (one build of a night's extracts, not two)."""
    from airflow.sdk.exceptions import AirflowSkipException

    from iepwatch.tasks import iep_nightly as t
    from iepwatch.tasks import state_reporting as sr

    class Slot:
        extra = None

    events = {}
    outlet_events = type("Outlets", (), {"__getitem__": lambda self, asset: events.setdefault(asset.name, Slot())})()
    t.finish_night(Night(N22, export_id="y"), params={"extracts_by_caller": True}, outlet_events=outlet_events)
    (extra,) = [s.extra for s in events.values()]
    assert extra == {"as_of": str(N22), "export_id": "y", "backfill": False, "extracts_by_caller": True}

    class Event:
        pass

    Event.extra = extra
    with pytest.raises(AirflowSkipException, match="run by make nightly, which builds its extracts itself"):
        sr.resolve_as_of(params={}, triggering_asset_events={"compliance": [Event()]})
    Event.extra = {**extra, "extracts_by_caller": False}   # a scheduled night: built by the scheduler's run
    assert sr.resolve_as_of(params={}, triggering_asset_events={"compliance": [Event()]}) == Night(N22, export_id="y")
