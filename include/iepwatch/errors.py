"""Every error the pipeline raises on purpose, in one place: what each means and whether a task
that meets it fails at once or is retried (``tasks.fail_fast`` turns the first kind into
Airflow's ``AirflowFailException``)."""


class DataError(ValueError):
    """Bad input: not transient, so the task fails at once without retrying.

    The message names the file, the column and up to ten line numbers, and never
    a value from the row (values may be student PII).
    """


class HostError(RuntimeError):
    """The machine cannot run the night as it is (not enough disk space): fails at once, reason first."""


class ConfigError(ValueError):
    """A configuration problem: not transient, so whatever meets it fails at once."""


class WarehouseBusy(RuntimeError):
    """Another process held the warehouse for longer than we wait (transient: retried)."""


class ExportNotReady(RuntimeError):
    """The completion marker is required and not there yet (transient: the task is retried)."""


class SendError(RuntimeError):
    """Some digests could not be sent (a transient fault: the task is retried)."""


class Unrecorded(RuntimeError):
    """The server accepted digests that could not be recorded (the error is its cause): not a
    failed send, so the task fails. A digest the journal could not take is named (its retry may
    send it again); digests in the journal that the send log could not take stay in the journal,
    and the next try adds them without sending them again."""


def lines_phrase(lines: list[int], total: int | None = None) -> str:
    """'lines 3, 7 and 9' (first ten, then 'and N more')."""
    total = len(lines) if total is None else total
    shown = ", ".join(str(n) for n in lines[:10])
    more = f" and {total - 10} more" if total > 10 else ""
    return f"line{'s' if total > 1 else ''} {shown}{more}"
