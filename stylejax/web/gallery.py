"""The shared album: images with a title, a thumbnail and the owner's delete token.

Items live in the site's SQLite file (table `gallery`) and their pictures in
WORKDIR/gallery as ID.png and ID_thumb.jpg, re-encoded from pixels (no
metadata). Whoever adds an item gets a random token once; only its SHA-256 is
stored, and deleting needs the token. Retention (stylejax.web.retention) lists
the items oldest first (`oldest_first`) and removes some (`remove`).
"""

import contextlib
import dataclasses
import hashlib
import hmac
import os
import secrets
import time

import numpy as np

from stylejax.io import images
from stylejax.web import queue

THUMB_SIDE = 256
_SCHEMA = """
CREATE TABLE IF NOT EXISTS gallery (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT UNIQUE NOT NULL,
  title TEXT NOT NULL,
  created REAL NOT NULL,
  owner_hash TEXT NOT NULL
);
"""


@dataclasses.dataclass(frozen=True)
class Item:
  id: str
  title: str
  created: float


def _hash(token):
  return hashlib.sha256(token.encode()).hexdigest()


class Gallery:

  def __init__(self, database, folder):
    self.database, self.folder = database, folder
    os.makedirs(folder, exist_ok=True)
    queue.prepare(database, _SCHEMA, "gallery", "seq, id, title, created, owner_hash")

  def _connect(self):
    return queue.connect(self.database)

  def image_path(self, item_id):
    return os.path.join(self.folder, f"{item_id}.png")

  def thumb_path(self, item_id):
    return os.path.join(self.folder, f"{item_id}_thumb.jpg")

  def add(self, img, title):
    """Stores a PIL RGB image; returns (item id, owner token)."""
    item_id, token = secrets.token_urlsafe(9), secrets.token_urlsafe(16)
    images.save_image(self.image_path(item_id), np.asarray(img))
    images.save_image(self.thumb_path(item_id), np.asarray(images.at_most(img, THUMB_SIDE)), quality=85)
    with self._connect() as db:
      db.execute("INSERT INTO gallery (id, title, created, owner_hash) VALUES (?, ?, ?, ?)",
                 (item_id, title, time.time(), _hash(token)))
    return item_id, token

  def get(self, item_id):
    with self._connect() as db:
      row = db.execute("SELECT id, title, created FROM gallery WHERE id = ?", (item_id,)).fetchone()
    return Item(**dict(row)) if row else None

  def page(self, number, size):
    """(items of page `number` (from 1), newest first; number of pages (at least 1))."""
    with self._connect() as db:
      count = db.execute("SELECT COUNT(*) FROM gallery").fetchone()[0]
      rows = db.execute("SELECT id, title, created FROM gallery ORDER BY seq DESC LIMIT ? OFFSET ?",
                        (size, (number - 1) * size)).fetchall()
    return [Item(**dict(row)) for row in rows], max(1, -(-count // size))

  def delete(self, item_id, token):
    """Deletes an item if `token` is its owner's; returns whether it did."""
    with self._connect() as db:
      row = db.execute("SELECT owner_hash FROM gallery WHERE id = ?", (item_id,)).fetchone()
      if row is None or not hmac.compare_digest(row["owner_hash"], _hash(token)):
        return False
    self.remove(item_id)
    return True

  def oldest_first(self):
    """[(item id, when it was added)] of every item, oldest first."""
    with self._connect() as db:
      return [(row["id"], row["created"]) for row in db.execute("SELECT id, created FROM gallery ORDER BY seq")]

  def files(self, item_id):
    """The paths of an item's picture and thumbnail."""
    return self.image_path(item_id), self.thumb_path(item_id)

  def remove(self, item_id):
    """Removes an item and its files (no token: for the owner's delete and for retention)."""
    with self._connect() as db:
      db.execute("DELETE FROM gallery WHERE id = ?", (item_id,))
    for path in self.files(item_id):
      with contextlib.suppress(FileNotFoundError):
        os.remove(path)
