"""The site's job queue: submit, claim (atomic, online first), progress, finish, fail, leases, requeue, outbox; the
gallery's table across versions."""

import multiprocessing
import time

import pytest
from PIL import Image

from stylejax.web import gallery as gallery_lib, queue as queue_lib


@pytest.fixture
def jobs(tmp_path):
  return queue_lib.JobQueue(str(tmp_path / "site.db"), max_attempts=2)


def submit(jobs, kind="custom", email=""):
  token = jobs.reserve(kind, 1000, "127.0.0.1", email)
  jobs.submit(token, {"method": "gatys"})
  return token


def test_reservations_count_against_the_limit_until_cancelled_and_are_never_claimed(jobs):
  first, second = jobs.reserve("online", 2, "a"), jobs.reserve("online", 2, "b")
  assert first and second and jobs.reserve("online", 2, "c") is None and jobs.pending("online") == 2
  assert jobs.reserve("custom", 1, "a") and jobs.claim("w", 10) is None  # files not written yet: not claimable
  jobs.cancel(first)
  assert jobs.get(first) is None and jobs.reserve("online", 2, "c")
  jobs.submit(second, {"model": "m"}, total=1)
  assert jobs.claim("w", 10).token == second
  assert len(jobs.drop_reservations()) == 2 and jobs.pending("online") == 1 and jobs.pending("custom") == 0


def test_claims_online_first_then_oldest_and_reports_positions(jobs):
  first, second = submit(jobs), submit(jobs)
  online = submit(jobs, "online")
  assert jobs.position(online) == 0 and jobs.position(first) == 1 and jobs.position(second) == 2
  assert jobs.claim("w", 10).token == online
  assert jobs.position(first) == 1  # the running online job is ahead
  assert jobs.claim("w", 10).token == first
  assert jobs.claim("w", 10, kinds=("online",)) is None
  assert jobs.pending("custom") == 2 and jobs.pending("online") == 1


def test_progress_finish_and_fail_need_the_lease(jobs):
  token = submit(jobs)
  job = jobs.claim("w1", 10)
  assert job.state == queue_lib.RUNNING and job.attempts == 1 and job.params == {"method": "gatys"}
  assert jobs.progress(token, "w1", 3, 10, 10)
  assert (jobs.get(token).step, jobs.get(token).total) == (3, 10)
  assert not jobs.progress(token, "w2", 4, 10, 10)  # not its job
  assert not jobs.finish(token, "w2", {})
  assert jobs.finish(token, "w1", {"seconds": 1.5})
  done = jobs.get(token)
  assert done.state == queue_lib.DONE and done.result == {"seconds": 1.5} and done.step == 10
  assert not jobs.fail(token, "w1", "late")  # already finished
  other = submit(jobs)
  jobs.claim("w1", 10)
  assert jobs.fail(other, "w1", "bad image")
  assert jobs.get(other).state == queue_lib.FAILED and jobs.get(other).message == "bad image"
  assert jobs.get("no-such-token") is None and jobs.position(token) is None


def test_an_expired_lease_gives_the_job_back_and_the_old_worker_loses_it(jobs):
  token = submit(jobs)
  jobs.claim("dead", 0.05)
  time.sleep(0.1)
  job = jobs.claim("alive", 10)  # every claim first requeues expired leases
  assert job.token == token and job.attempts == 2 and job.message == queue_lib.RESTARTED
  assert not jobs.progress(token, "dead", 1, 2, 10) and not jobs.finish(token, "dead", {})
  assert jobs.finish(token, "alive", {})


def test_renewed_leases_do_not_expire(jobs):
  token = submit(jobs)
  jobs.claim("w", 0.3)
  for _ in range(3):
    time.sleep(0.15)
    jobs.renew("w", 0.3)
  assert jobs.requeue_expired() == 0 and jobs.get(token).worker == "w"


def test_a_dead_worker_is_requeued_at_once_then_failed_after_max_attempts(jobs):
  token = submit(jobs)
  jobs.claim("w1", 60)
  assert jobs.requeue_worker("w1") == 1
  assert jobs.get(token).state == queue_lib.QUEUED
  jobs.claim("w2", 60)
  jobs.requeue_worker("w2")  # the second death of max_attempts=2
  failed = jobs.get(token)
  assert failed.state == queue_lib.FAILED and "stopped 2 times" in failed.message


def test_release_gives_back_without_counting_an_attempt(jobs):
  token = submit(jobs)
  jobs.claim("w", 60)
  jobs.release(token, "w")
  assert jobs.get(token).state == queue_lib.QUEUED and jobs.get(token).attempts == 0
  assert jobs.get(token).message == queue_lib.RESTARTED  # its page says it starts again
  jobs.claim("w", 60)
  jobs.finish(token, "w", {"seconds": 1.0})
  assert jobs.get(token).message == "" and jobs.recent_results("custom") == [({"method": "gatys"}, {"seconds": 1.0})]


def test_outbox_lists_finished_jobs_with_an_address_until_mailed(jobs):
  with_mail, without = submit(jobs, email="a@example.org"), submit(jobs)
  assert jobs.unmailed() == []
  for _ in range(2):
    job = jobs.claim("w", 60)
    jobs.finish(job.token, "w", {})
  assert [job.token for job in jobs.unmailed()] == [with_mail]
  jobs.mailed(with_mail)
  assert jobs.unmailed() == [] and jobs.get(without).state == queue_lib.DONE


def _claim_all(path, name, claimed, start):
  jobs = queue_lib.JobQueue(path)
  start.wait(60)
  while (job := jobs.claim(name, 60)) is not None:
    claimed.append((name, job.token))


@pytest.mark.slow
def test_two_worker_processes_never_claim_the_same_job(tmp_path):
  path = str(tmp_path / "site.db")
  jobs = queue_lib.JobQueue(path)
  tokens = {submit(jobs) for _ in range(60)}
  context = multiprocessing.get_context("spawn")
  with context.Manager() as manager:
    claimed, start = manager.list(), manager.Event()
    workers = [context.Process(target=_claim_all, args=(path, f"w{i}", claimed, start)) for i in range(2)]
    for worker in workers:
      worker.start()
    time.sleep(1.0)  # both processes are up and waiting
    start.set()
    for worker in workers:
      worker.join(60)
    claimed = list(claimed)
  assert sorted(token for _, token in claimed) == sorted(tokens)  # each job exactly once
  assert all(jobs.get(token).worker == name for name, token in claimed)


def test_a_gallery_of_an_earlier_version_gets_the_new_columns(tmp_path):
  database = str(tmp_path / "site.db")
  with queue_lib.connect(database) as db:  # the first schema
    db.execute("CREATE TABLE gallery (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, "
               "title TEXT NOT NULL, created REAL NOT NULL, owner_hash TEXT NOT NULL)")
    db.execute("INSERT INTO gallery (id, title, created, owner_hash) VALUES ('old', 'kept', 0, 'x')")
  album = gallery_lib.Gallery(database, str(tmp_path / "gallery"))
  assert album.get("old") == gallery_lib.Item("old", "kept", 0.0)
  picture = Image.new("RGB", (8, 8))
  first, owner = album.add(picture, "t", source="job1")
  assert owner and album.add(picture, "t", source="job1") == (first, None)  # one item per shared job
  assert album.shared_from("job1").id == first and album.shared_from("") is None
