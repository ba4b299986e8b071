"""Numbers read from text take ASCII digits 0-9 within a range (stylejax.errors.whole_number), whoever wrote the
text: str.isdigit() accepts '²' and '٣', which int() then refuses with a traceback (issue 23: --config.shard=²/³
and the label ² in a label-groups table)."""

import pickle

import numpy as np
import pytest

from stylejax.errors import UserError, whole_number
from stylejax.io import mask_files, weights
from stylejax.jobs import stylize

NOT_WHOLE_NUMBERS = ["²", "³", "٣", "１", "1e3", "-1", "+1", "1_0", "1.0", "", " ", "0x1", "9" * 5000]


def shard_index(text, tmp_path):
  stylize.shard(f"{text}/3")


def shard_count(text, tmp_path):
  stylize.shard(f"0/{text}")


def group_label(text, tmp_path):
  path = tmp_path / "groups.tsv"
  path.write_text(f"label\tclass\tgroup\n{text}\tsky\tsky\n", encoding="utf-8")
  mask_files.read_groups(str(path))


def lpips_layer(text, tmp_path):
  path = tmp_path / "vgg16.ckpt"
  layer = {"kernel": np.zeros((3, 3, 3, 4), np.float32), "bias": np.zeros(4, np.float32)}
  path.write_bytes(pickle.dumps({"VGG16_0": {"Conv_0": layer, f"Conv_{text}": layer}}))
  weights.read_weights(str(path))


# Each place that reads a number from text, with the first number past its range.
PARSERS = [(shard_index, "100001"), (shard_count, "100001"), (group_label, "65536"), (lpips_layer, "10001")]


@pytest.mark.parametrize("text", NOT_WHOLE_NUMBERS + ["too large"])
@pytest.mark.parametrize("parse, too_large", PARSERS, ids=[parse.__name__ for parse, _ in PARSERS])
def test_numbers_in_text_are_ascii_digits_in_range_or_one_user_error(tmp_path, parse, too_large, text):
  with pytest.raises(UserError, match=r"must be a whole number from 0 to \d+ \(digits 0-9\), got"):
    parse(too_large if text == "too large" else text, tmp_path)


def test_whole_numbers_read_as_before():
  assert whole_number(" 42 ", "x", 100) == 42 and whole_number("007", "x", 100) == 7
  assert stylize.shard("2/3") == (2, 3)
  with pytest.raises(UserError, match="x must be a whole number from 0 to 100"):
    whole_number("101", "x", 100)
