"""Errors the pipeline raises on purpose."""


class DataError(ValueError):
    """Bad input: not transient, so the task fails at once without retrying.

    The message names the file, the column and up to ten line numbers, and never
    a value from the row (values may be student PII).
    """


class HostError(RuntimeError):
    """The machine cannot run the night as it is (not enough disk space): fails at once, reason first."""


def lines_phrase(lines: list[int], total: int | None = None) -> str:
    """'lines 3, 7 and 9' (first ten, then 'and N more')."""
    total = len(lines) if total is None else total
    shown = ", ".join(str(n) for n in lines[:10])
    more = f" and {total - 10} more" if total > 10 else ""
    return f"line{'s' if total > 1 else ''} {shown}{more}"
