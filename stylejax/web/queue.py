"""The website's persistent job queue: one SQLite table (WAL mode) behind a narrow interface.

    queue = JobQueue("runs/site/site.db")
    token = queue.reserve("custom", limit=20, client="10.0.0.7")  # None: the limit is reached
    queue.submit(token, params)  # after writing the job's files  /  queue.cancel(token) if that failed
    job = queue.claim("worker-1", lease_seconds=30)        # atomic: one worker gets each job
    queue.progress(job.token, "worker-1", step, total, lease)  # False once the worker lost the job
    queue.finish(job.token, "worker-1", result)  /  queue.fail(job.token, "worker-1", message)

A job's token is its unguessable public name (the job page's URL). A job
first holds a slot (`reserve`: one transaction counts the pending jobs of its
kind and inserts the reservation only below the limit, so parallel requests
cannot pass a limit together); it is queued once its files are written. A claimed
job holds a lease that its worker renews (`renew`); a job whose worker died
(kill -9, power loss) is given back to the queue when its lease runs out
(`requeue_expired`, called by every claim) or at once when the supervisor saw
the worker die (`requeue_worker`), so nothing is lost and nothing runs twice at
the same time: a worker whose lease ran out can no longer report progress or
finish. After `max_attempts` claims a job fails instead of killing workers
forever. A job given back keeps RESTARTED as its message (its page says so) until it
ends. Mail delivery is an outbox: `unmailed` lists the finished jobs with an
address whose mail has not been sent (what a restarted worker must still
send), `mailed` marks one sent. Retention (stylejax.web.retention) lists the
finished jobs (`finished`) and removes them (`remove_finished`), which never
touches a job that is reserved, queued or running.

Everything else in the site uses only these methods, so a server database
can replace SQLite behind the same interface.
"""

import contextlib
import dataclasses
import json
import secrets
import socket
import sqlite3
import time

from stylejax.errors import UserError

RESERVED, QUEUED, RUNNING, DONE, FAILED = "reserved", "queued", "running", "done", "failed"
PENDING = (RESERVED, QUEUED, RUNNING)  # what counts against a kind's limit
RESTARTED = "the site restarted while this job ran, so it starts again from the beginning"  # a queued job's message
PRIORITY = {"online": 1, "custom": 0, "video": 0}  # online requests go first (the worker also runs them in a lane of
# their own); custom and video jobs share the main lane, oldest first

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  token TEXT UNIQUE NOT NULL,
  kind TEXT NOT NULL,
  priority INTEGER NOT NULL,
  state TEXT NOT NULL,
  params TEXT NOT NULL,
  client TEXT NOT NULL,
  email TEXT NOT NULL DEFAULT '',
  created REAL NOT NULL,
  started REAL,
  finished REAL,
  worker TEXT,
  lease_until REAL,
  attempts INTEGER NOT NULL DEFAULT 0,
  step INTEGER NOT NULL DEFAULT 0,
  total INTEGER NOT NULL DEFAULT 0,
  message TEXT NOT NULL DEFAULT '',
  result TEXT NOT NULL DEFAULT '{}',
  mailed INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS jobs_waiting ON jobs (state, priority DESC, seq);
"""
_COLUMNS = ("seq, token, kind, priority, state, params, client, email, created, started, finished, worker, "
            "lease_until, attempts, step, total, message, result, mailed")
_COUNT_PENDING = f"SELECT COUNT(*) FROM jobs WHERE kind = ? AND state IN ({', '.join('?' * len(PENDING))})"


def worker_name(pid):
  """The name a worker process claims jobs under (the supervisor gives back a dead worker's jobs by it)."""
  return f"{socket.gethostname()}-{pid}"


def connect(path):
  """A connection to the site's SQLite file in autocommit mode (BEGIN IMMEDIATE where a change spans
  statements), closed by its `with` block."""
  db = sqlite3.connect(path, timeout=30, isolation_level=None)
  db.row_factory = sqlite3.Row
  return contextlib.closing(db)


def prepare(path, schema, table, columns):
  """Creates `schema` in the site's SQLite file (WAL mode) unless `table` is there; a file that is not a usable
  database of this site (garbage, a folder, another program's `table`, read-only) is a UserError naming it, and
  is refused before anything is written to it."""
  try:
    with connect(path) as db:
      if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone():
        db.execute(f"SELECT {columns} FROM {table} LIMIT 0")
      db.execute("PRAGMA journal_mode=WAL")
      db.executescript(schema)
  except sqlite3.Error as e:
    raise UserError(f"{path} is not a usable site database ({e}); restore it, or move it away to start with an "
                    f"empty one") from None


@dataclasses.dataclass(frozen=True)
class Job:
  token: str
  kind: str
  state: str
  params: dict
  client: str
  email: str
  created: float
  started: float
  finished: float
  worker: str
  lease_until: float
  attempts: int
  step: int
  total: int
  message: str
  result: dict

  @classmethod
  def from_row(cls, row):
    values = dict(row)
    values["params"], values["result"] = json.loads(values["params"]), json.loads(values["result"])
    return cls(**{field.name: values[field.name] for field in dataclasses.fields(cls)})


class JobQueue:
  """The jobs table of one SQLite file; safe to use from several processes and threads (one connection each)."""

  def __init__(self, path, max_attempts=3):
    self.path, self.max_attempts = path, max_attempts
    prepare(path, _SCHEMA, "jobs", _COLUMNS)

  def _connect(self):
    return connect(self.path)

  def reserve(self, kind, limit, client, email=""):
    """A new job's token (128 random bits, url-safe) holding one of the `limit` slots of `kind`, or None when
    `limit` jobs of that kind are pending already. Counting and inserting are one write transaction, so
    parallel requests never pass the limit together."""
    token = secrets.token_urlsafe(16)
    with self._connect() as db:
      db.execute("BEGIN IMMEDIATE")
      inserted = db.execute(
          f"INSERT INTO jobs (token, kind, priority, state, params, client, email, created, mailed) "
          f"SELECT ?, ?, ?, ?, '{{}}', ?, ?, ?, ? WHERE ({_COUNT_PENDING}) < ?",
          (token, kind, PRIORITY[kind], RESERVED, client, email, time.time(), int(not email), kind, *PENDING,
           limit)).rowcount
      db.execute("COMMIT")
    return token if inserted else None

  def submit(self, token, params, total=0):
    """Queues the reserved job `token` with its `params` (once its files are written)."""
    with self._connect() as db:
      db.execute("UPDATE jobs SET state = ?, params = ?, total = ?, created = ? WHERE token = ? AND state = ?",
                 (QUEUED, json.dumps(params), total, time.time(), token, RESERVED))

  def cancel(self, token):
    """Gives back the slot of a reserved job whose upload was refused or failed."""
    with self._connect() as db:
      db.execute("DELETE FROM jobs WHERE token = ? AND state = ?", (token, RESERVED))

  def drop_reservations(self):
    """Removes the reservations a stopped server left (uploads it was receiving); returns their tokens."""
    with self._connect() as db:
      return [row[0] for row in db.execute("DELETE FROM jobs WHERE state = ? RETURNING token", (RESERVED,))]

  def get(self, token):
    """The job of `token`, or None."""
    with self._connect() as db:
      row = db.execute("SELECT * FROM jobs WHERE token = ?", (token,)).fetchone()
    return Job.from_row(row) if row else None

  def position(self, token):
    """How many jobs run or wait before this queued job (0: it is next), or None if it is not queued."""
    with self._connect() as db:
      row = db.execute("SELECT priority, seq FROM jobs WHERE token = ? AND state = ?", (token, QUEUED)).fetchone()
      if row is None:
        return None
      return db.execute("SELECT COUNT(*) FROM jobs WHERE state = ? OR (state = ? AND "
                        "(priority > ? OR (priority = ? AND seq < ?)))",
                        (RUNNING, QUEUED, row["priority"], row["priority"], row["seq"])).fetchone()[0]

  def pending(self, kind):
    """How many jobs of `kind` are reserved, queued or running (what counts against its limit)."""
    with self._connect() as db:
      return db.execute(_COUNT_PENDING, (kind, *PENDING)).fetchone()[0]

  def claim(self, worker, lease_seconds, kinds=tuple(PRIORITY)):
    """Atomically takes the first waiting job of `kinds` (online first, then oldest) for `worker`, or None."""
    self.requeue_expired()
    marks = ", ".join("?" * len(kinds))
    now = time.time()
    with self._connect() as db:
      row = db.execute(
          f"UPDATE jobs SET state = ?, worker = ?, lease_until = ?, started = ?, attempts = attempts + 1 "
          f"WHERE seq = (SELECT seq FROM jobs WHERE state = ? AND kind IN ({marks}) ORDER BY priority DESC, seq "
          f"LIMIT 1) AND state = ? RETURNING *",
          (RUNNING, worker, now + lease_seconds, now, QUEUED, *kinds, QUEUED)).fetchone()
    return Job.from_row(row) if row else None

  def renew(self, worker, lease_seconds):
    """Extends the leases of every job `worker` runs (its heartbeat)."""
    with self._connect() as db:
      db.execute("UPDATE jobs SET lease_until = ? WHERE worker = ? AND state = ?",
                 (time.time() + lease_seconds, worker, RUNNING))

  def progress(self, token, worker, step, total, lease_seconds):
    """Records `step` of `total` of a running job and renews its lease; False if `worker` no longer holds it."""
    with self._connect() as db:
      changed = db.execute("UPDATE jobs SET step = ?, total = ?, lease_until = ? "
                           "WHERE token = ? AND worker = ? AND state = ?",
                           (step, total, time.time() + lease_seconds, token, worker, RUNNING)).rowcount
    return changed == 1

  def finish(self, token, worker, result):
    """Marks a job done with `result` (a JSON-able dict); False if `worker` no longer holds it."""
    return self._end(token, worker, DONE, "", result)

  def fail(self, token, worker, message):
    """Marks a job failed with a message for its page; False if `worker` no longer holds it."""
    return self._end(token, worker, FAILED, message, {})

  def _end(self, token, worker, state, message, result):
    with self._connect() as db:
      changed = db.execute("UPDATE jobs SET state = ?, message = ?, result = ?, finished = ?, step = total, "
                           "lease_until = NULL WHERE token = ? AND worker = ? AND state = ?",
                           (state, message, json.dumps(result), time.time(), token, worker, RUNNING)).rowcount
    return changed == 1

  def release(self, token, worker):
    """Gives back a job its worker stopped cleanly (Ctrl-C, shutdown); this does not count as an attempt."""
    with self._connect() as db:
      db.execute("UPDATE jobs SET state = ?, worker = NULL, lease_until = NULL, step = 0, attempts = attempts - 1, "
                 "message = ? WHERE token = ? AND worker = ? AND state = ?",
                 (QUEUED, RESTARTED, token, worker, RUNNING))

  def requeue_worker(self, worker):
    """Gives back the running jobs of a worker known to be dead (its supervisor saw it exit)."""
    return self._requeue("worker = ?", (worker,))

  def requeue_expired(self):
    """Gives back the running jobs whose lease ran out (their worker died or hung)."""
    return self._requeue("lease_until < ?", (time.time(),))

  def _requeue(self, condition, values):
    """Running jobs matching `condition` go back to the queue, or fail after max_attempts; returns their count."""
    with self._connect() as db:
      db.execute("BEGIN IMMEDIATE")
      failed = db.execute(f"UPDATE jobs SET state = ?, message = ?, finished = ?, worker = NULL, lease_until = NULL "
                          f"WHERE state = ? AND attempts >= ? AND {condition}",
                          (FAILED, f"the worker stopped {self.max_attempts} times while running this job",
                           time.time(), RUNNING, self.max_attempts, *values)).rowcount
      requeued = db.execute(f"UPDATE jobs SET state = ?, worker = NULL, lease_until = NULL, step = 0, message = ? "
                            f"WHERE state = ? AND {condition}", (QUEUED, RESTARTED, RUNNING, *values)).rowcount
      db.execute("COMMIT")
    return failed + requeued

  def finished(self):
    """[(token, when it ended)] of the done and failed jobs, oldest first."""
    with self._connect() as db:
      rows = db.execute("SELECT token, COALESCE(finished, created) AS ended FROM jobs WHERE state IN (?, ?) "
                        "ORDER BY ended, seq", (DONE, FAILED)).fetchall()
    return [(row["token"], row["ended"]) for row in rows]

  def remove_finished(self, tokens):
    """Deletes the jobs of `tokens` that are done or failed (a job in any other state stays); returns the tokens
    deleted, whose files may go now."""
    with self._connect() as db:
      return [token for token in tokens
              if db.execute("DELETE FROM jobs WHERE token = ? AND state IN (?, ?)", (token, DONE, FAILED)).rowcount]

  def known(self, tokens):
    """The subset of `tokens` that name a job in the table."""
    with self._connect() as db:
      return {token for token in tokens if db.execute("SELECT 1 FROM jobs WHERE token = ?", (token,)).fetchone()}

  def recent_results(self, kind, limit=50):
    """[(params, result)] of the latest `limit` done jobs of `kind`, newest first (the site's measured times)."""
    with self._connect() as db:
      rows = db.execute("SELECT params, result FROM jobs WHERE kind = ? AND state = ? ORDER BY finished DESC "
                        "LIMIT ?", (kind, DONE, limit)).fetchall()
    return [(json.loads(row["params"]), json.loads(row["result"])) for row in rows]

  def unmailed(self):
    """Finished jobs with an e-mail address whose mail has not been sent (the outbox)."""
    with self._connect() as db:
      rows = db.execute("SELECT * FROM jobs WHERE mailed = 0 AND state IN (?, ?) ORDER BY seq",
                        (DONE, FAILED)).fetchall()
    return [Job.from_row(row) for row in rows]

  def mailed(self, token):
    """Marks a job's mail as sent."""
    with self._connect() as db:
      db.execute("UPDATE jobs SET mailed = 1 WHERE token = ?", (token,))

