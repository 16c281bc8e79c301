"""Batch endpoints' jobs: their values and pure decisions (jobs), and the durable mini-batch queue (store).

How a runner drives the queue (`runtime.batch.store.BatchStore`, one per state directory):

- at startup: `release_all(now)` (every lease belonged to the server that stopped), then for each job of
  `unfinished()`: `enumerate` one not yet `enumerated`, `finalize` one Finalizing;
- on a new job: `submit(...)`, then `enumerate(name, now)` in a thread;
- per worker: `claim(worker, now, lease_s, endpoint=, deployment=)`, `renew` while run() works (stop when it
  answers False), then `complete(mb, rows, now)`, `fail(mb, error, now)` (an exception or a timeout) or
  `requeue(mb, now)` (pre-empted), and `add_usage` for the time it took;
- when a job reads Finalizing: `finalize(name, now)` in a thread; `cancel(name, now)` on request, `sweep(now)`
  now and then so a canceled job whose last lease ran out reads Canceled.

`files` (walking inputs, writing the output file) and `schema` (tables, row codecs) are the store's own. `runner`
(`BatchRunner`) is that runner: `slots` runs one job on its workers, `executors` starts them (`LocalExecutor`:
pinned local subprocesses), `joblogs` writes a job's Azure-style log files.
"""
