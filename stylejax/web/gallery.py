"""The shared album: images with a title, a caption (how they were made), a thumbnail, optionally the photo they
were made from and their style, and the owner's delete token.

Items live in the site's SQLite file (table `gallery`) and their pictures in
WORKDIR/gallery as ID.png, ID_thumb.jpg and, where given, ID_before.jpg and
ID_style.jpg, re-encoded from pixels (no metadata). An item shared from a job
remembers the job (`source`): sharing it again finds the same item. Whoever
adds an item gets a random token once; only its SHA-256 is stored, and
deleting needs the token. Retention (stylejax.web.retention) lists the items
oldest first (`oldest_first`) and removes some (`remove`).
"""

import contextlib
import dataclasses
import hashlib
import hmac
import os
import secrets
import sqlite3
import time

import numpy as np

from stylejax.io import images
from stylejax.web import queue

THUMB_SIDE = 256
BEFORE_SIDE, STYLE_SIDE = 1280, 512  # long sides of the photo and style kept beside a shared result
_ADDED = {"source": "TEXT NOT NULL DEFAULT ''", "caption": "TEXT NOT NULL DEFAULT ''",  # columns added since the
          "has_before": "INTEGER NOT NULL DEFAULT 0", "has_style": "INTEGER NOT NULL DEFAULT 0"}  # first schema
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
  caption: str = ""
  has_before: bool = False
  has_style: bool = False


_ITEM = "id, title, created, caption, has_before, has_style"


def _hash(token):
  return hashlib.sha256(token.encode()).hexdigest()


class Gallery:

  def __init__(self, database, folder):
    self.database, self.folder = database, folder
    os.makedirs(folder, exist_ok=True)
    queue.prepare(database, _SCHEMA, "gallery", "seq, id, title, created, owner_hash")
    with self._connect() as db:  # a gallery of an earlier version gets the new columns
      present = {row["name"] for row in db.execute("PRAGMA table_info(gallery)")}
      for name, declaration in _ADDED.items():
        if name not in present:
          db.execute(f"ALTER TABLE gallery ADD COLUMN {name} {declaration}")
      db.execute("CREATE UNIQUE INDEX IF NOT EXISTS gallery_source ON gallery (source) WHERE source != ''")

  def _connect(self):
    return queue.connect(self.database)

  def before_path(self, item_id):
    return os.path.join(self.folder, f"{item_id}_before.jpg")

  def style_path(self, item_id):
    return os.path.join(self.folder, f"{item_id}_style.jpg")

  def image_path(self, item_id):
    return os.path.join(self.folder, f"{item_id}.png")

  def thumb_path(self, item_id):
    return os.path.join(self.folder, f"{item_id}_thumb.jpg")

  def add(self, img, title, caption="", before=None, style=None, source=""):
    """Stores a PIL RGB image (with the photo it was made from and its style, if given); returns (item id, owner
    token), or (the item's id, None) when job `source` was shared already."""
    item_id, token = secrets.token_urlsafe(9), secrets.token_urlsafe(16)
    images.save_image(self.image_path(item_id), np.asarray(img))
    images.save_image(self.thumb_path(item_id), np.asarray(images.at_most(img, THUMB_SIDE)), quality=85)
    for picture, path, side in ((before, self.before_path(item_id), BEFORE_SIDE),
                                (style, self.style_path(item_id), STYLE_SIDE)):
      if picture is not None:
        images.save_image(path, np.asarray(images.at_most(picture, side)), quality=90)
    try:
      with self._connect() as db:
        db.execute("INSERT INTO gallery (id, title, created, owner_hash, source, caption, has_before, has_style) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (item_id, title, time.time(), _hash(token), source, caption,
                                                       before is not None, style is not None))
    except sqlite3.IntegrityError:  # the same job shared at the same moment: one item
      self.remove(item_id)
      return self.shared_from(source).id, None
    return item_id, token

  def get(self, item_id):
    with self._connect() as db:
      row = db.execute(f"SELECT {_ITEM} FROM gallery WHERE id = ?", (item_id,)).fetchone()
    return Item(**dict(row)) if row else None

  def shared_from(self, source):
    """The item shared from job `source`, or None."""
    with self._connect() as db:
      row = db.execute(f"SELECT {_ITEM} FROM gallery WHERE source = ? AND source != ''", (source,)).fetchone()
    return Item(**dict(row)) if row else None

  def page(self, number, size):
    """(items of page `number` (from 1), newest first; number of pages (at least 1))."""
    with self._connect() as db:
      count = db.execute("SELECT COUNT(*) FROM gallery").fetchone()[0]
      rows = db.execute(f"SELECT {_ITEM} FROM gallery ORDER BY seq DESC LIMIT ? OFFSET ?",
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
    """The paths of an item's pictures (the photo and style ones may not exist)."""
    return self.image_path(item_id), self.thumb_path(item_id), self.before_path(item_id), self.style_path(item_id)

  def remove(self, item_id):
    """Removes an item and its files (no token: for the owner's delete and for retention)."""
    with self._connect() as db:
      db.execute("DELETE FROM gallery WHERE id = ?", (item_id,))
    for path in self.files(item_id):
      with contextlib.suppress(FileNotFoundError):
        os.remove(path)
