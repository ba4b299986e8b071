"""The people-facing docs: every relative link in README.md, docs/ and experiments/ points at a file that
exists (and, with a #fragment into a Markdown file, at one of its headings), and README.md stays short."""

import glob
import os
import re

import pytest

from tests.helpers import ROOT

README_MAX_LINES = 250
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def pages():
  found = [os.path.join(ROOT, "README.md")]
  for folder in ("docs", "experiments"):
    found += glob.glob(os.path.join(ROOT, folder, "**", "*.md"), recursive=True)
  return sorted(found)


def prose(text):
  """The page's lines with its fenced code blocks blanked (links and headings inside them are not)."""
  lines, fenced = [], False
  for line in text.splitlines():
    if FENCE.match(line):
      fenced = not fenced
      line = ""
    lines.append("" if fenced else line)
  return lines


def slug(heading):
  """GitHub's anchor for a heading: lower case, punctuation dropped (not - and _), spaces to hyphens."""
  text = re.sub(r"`", "", heading.strip().lower())
  text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
  return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
  seen, result = {}, set()
  with open(path, encoding="utf-8") as f:
    for line in prose(f.read()):
      match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
      if match:
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
  return result


def relative_links(path):
  with open(path, encoding="utf-8") as f:
    for number, line in enumerate(prose(f.read()), 1):
      for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):  # not inside inline code
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, https:, mailto: ...
          yield number, target


def test_the_docs_pages_exist():
  names = {os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "docs", "*.md"))}
  assert {"gatys.md", "luan.md", "johnson.md", "fast_photo.md", "website.md", "reliability.md", "benchmarks.md",
          "configs.md", "python_api.md", "weights.md", "matting.md"} <= names


@pytest.mark.parametrize("page", pages(), ids=lambda p: os.path.relpath(p, ROOT))
def test_every_relative_link_points_at_something(page):
  missing = []
  for number, target in relative_links(page):
    path, _, fragment = target.partition("#")
    full = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
    if not os.path.exists(full):
      missing.append(f"line {number}: {target} (no {os.path.relpath(full, ROOT)})")
    elif fragment and full.endswith(".md") and fragment not in anchors(full):
      missing.append(f"line {number}: {target} (no heading #{fragment} in {os.path.relpath(full, ROOT)})")
  assert not missing, f"{os.path.relpath(page, ROOT)}: broken links:\n" + "\n".join(missing)


def test_readme_is_short():
  with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
    lines = f.read().splitlines()
  assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"
