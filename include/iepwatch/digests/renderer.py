"""Rendering a night's digests in a worker process while the task queries and sends."""

from __future__ import annotations

from iepwatch.config import Config
from iepwatch.digests import digest as digests


class Renderer:
    """Renders digests (templates, CSS inlining, the calendar: pure CPU) in a worker process while
    this one queries the warehouse and talks SMTP, so the two overlap on two cores. Digests come
    back in the order they went in, at most ``AHEAD`` in flight; the sending and its log stay
    here, one digest at a time. A night of ``INLINE_BELOW`` digests or fewer renders in-process
    (a worker's start-up is not worth it), and so does a task that may not start processes: under
    the Celery executor the task descends from a daemonic pool process, and Python refuses a
    daemonic process children."""

    AHEAD = 16
    INLINE_BELOW = 20

    def __init__(self, cfg: Config) -> None:
        self.cfg, self.pool, self.pending, self.waiting = cfg, None, [], []

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, d: digests.Digest):
        """Queue ``d``; yields the (digest, content) pairs that are ready to send, in order."""
        if self.pool is None:
            self.waiting.append(d)
            if len(self.waiting) <= self.INLINE_BELOW:
                return
            if _daemonic():
                yield from self.drain()
                return
            self._start()
            for w in self.waiting:
                self.pending.append((w, self.pool.submit(_render_in_worker, w)))
            self.waiting = []
        else:
            self.pending.append((d, self.pool.submit(_render_in_worker, d)))
        while len(self.pending) > self.AHEAD:
            yield self._ready()

    def drain(self):
        for w in self.waiting:
            yield w, digests.render(w, self.cfg)
        self.waiting = []
        while self.pending:
            yield self._ready()

    def _ready(self) -> tuple[digests.Digest, dict]:
        w, future = self.pending.pop(0)
        content = future.result()
        content["attachments"] = [*w.attachments, *content["attachments"]]
        return w, content

    def _start(self) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: this process holds DuckDB's threads and Airflow's state
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_worker_config, initargs=(self.cfg,))


_WORKER_CONFIG: list[Config] = []   # the rendering worker's configuration, set once when it starts


def _worker_config(cfg: Config) -> None:
    _WORKER_CONFIG[:] = [cfg]


def _render_in_worker(d: digests.Digest) -> dict:
    """``digests.render`` in the worker, handing back the attachments it made (the calendar) but
    not the digest's own (its CSV, which the task holds): sent back, they doubled the bytes
    pickled between the two processes."""
    content = digests.render(d, _WORKER_CONFIG[0])
    content["attachments"] = content["attachments"][len(d.attachments):]
    return content


def _daemonic() -> bool:
    import multiprocessing

    return bool(multiprocessing.current_process().daemon)
