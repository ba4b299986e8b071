"""Content data: sources, crops, determinism, resumable iterators, the tfds builder."""

import os

import numpy as np
import pytest
from PIL import Image

from stylejax.errors import UserError
from stylejax.io import data


@pytest.fixture
def photo_folder(tmp_path, rng):
  """Five readable images (RGB, grey, RGBA, in a subfolder), one corrupt file, one text file."""
  for name, mode, size in [("a.jpg", "RGB", (80, 60)), ("b.png", "L", (50, 70)), ("c.png", "RGBA", (64, 64)),
                           ("sub/d.jpg", "RGB", (120, 90)), ("sub/e.bmp", "RGB", (40, 40))]:
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    pixels = rng.integers(0, 256, (size[1], size[0], len(mode)), dtype=np.uint8)
    Image.fromarray(pixels.squeeze(-1) if mode == "L" else pixels, mode).save(path)
  (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
  (tmp_path / "notes.txt").write_text("not an image")
  return tmp_path


def test_folder_source_lists_images_recursively_and_skips_unreadable(photo_folder):
  source = data.make_source(f"folder:{photo_folder}")
  assert len(source) == 6  # the text file is not an image file
  decoded = [source[i] for i in range(len(source))]
  assert all(img.mode == "RGB" for img in decoded)
  assert source.unreadable == {str(photo_folder / "broken.jpg")}
  # The unreadable file is replaced by the next readable one, deterministically.
  broken = source.paths.index(str(photo_folder / "broken.jpg"))
  assert np.array_equal(np.asarray(decoded[broken]), np.asarray(decoded[(broken + 1) % 6]))


def test_files_source_reads_exactly_the_listed_files(photo_folder):
  listed = sorted(str(path) for path in photo_folder.rglob("*") if path.suffix in (".png", ".jpg"))[:3]
  source = data.make_source("files:" + ",".join(listed))
  assert source.paths == listed
  assert all(source[i].mode == "RGB" for i in range(len(source)))


def test_samples_source_has_bundled_and_scikit_image_photos():
  source = data.make_source("samples")
  assert len(source) == len(data.SAMPLE_ASSETS) + len(data.SKIMAGE_PHOTOS)
  assert all(min(source[i].size) >= 256 for i in range(len(source)))
  assert not source.unreadable


@pytest.mark.parametrize("spec,message", [("nope", "unknown data source"), ("folder:/does/not/exist", "not found"),
                                          ("tfds:", "unknown data source"),
                                          ("files:/no/such.png", "data files not found"), ("files:", "lists no files"),
                                          ("files:,", "lists no files")])
def test_bad_source_specs_are_user_errors(spec, message):
  with pytest.raises(UserError, match=message):
    data.make_source(spec)


def test_empty_folder_is_a_user_error(tmp_path):
  with pytest.raises(UserError, match="no image files"):
    data.make_source(f"folder:{tmp_path}")


def test_square_crop_random_and_centre(rng):
  img = Image.fromarray(rng.integers(0, 256, (60, 90, 3), dtype=np.uint8))
  centre = data.square_crop(img, 32)
  assert centre.shape == (32, 32, 3) and centre.dtype == np.uint8
  assert np.array_equal(centre, data.square_crop(img, 32))
  crops = {data.square_crop(img, 32, np.random.default_rng(seed)).tobytes() for seed in range(8)}
  assert len(crops) > 1  # positions and flips vary with the generator


def test_batches_are_a_function_of_seed_and_index(photo_folder):
  source = data.make_source(f"folder:{photo_folder}")
  first = data.training_batches(source, 24, 2, seed=3)
  again = data.training_batches(data.make_source(f"folder:{photo_folder}"), 24, 2, seed=3)
  other = data.training_batches(source, 24, 2, seed=4)
  assert first[0].shape == (2, 24, 24, 3) and first[0].dtype == np.uint8
  assert all(np.array_equal(first[k], again[k]) for k in range(8))
  assert not all(np.array_equal(first[k], other[k]) for k in range(8))


def test_iterator_state_resumes_the_same_stream(photo_folder):
  dataset = data.training_batches(data.make_source(f"folder:{photo_folder}"), 16, 2, seed=0)
  iterator = data.iterate(dataset, num_threads=2)
  for _ in range(5):
    next(iterator)
  state = iterator.get_state()
  expected = [next(iterator) for _ in range(4)]
  resumed = data.iterate(dataset, num_threads=2, state=state)
  assert all(np.array_equal(a, next(resumed)) for a in expected)


def test_host_shards_are_disjoint(photo_folder):
  source = data.make_source(f"folder:{photo_folder}")
  names = [data.training_batches(source, 16, 1, 0, shard, 2) for shard in (0, 1)]
  seen = [{names[shard][k].tobytes() for k in range(3)} for shard in (0, 1)]
  assert not seen[0] & seen[1]


def test_tfds_builder_round_trip_without_tensorflow(photo_folder, tmp_path):
  data_dir = tmp_path / "tfds"
  assert data.build_tfds(str(photo_folder), str(data_dir), short_side=32) == 5  # the broken file is skipped
  source = data.make_source("tfds:stylejax_images", str(data_dir))
  assert len(source) == 5
  sizes = sorted(min(source[i].size) for i in range(5))
  assert sizes[-1] == 32 and all(img.mode == "RGB" for img in (source[i] for i in range(5)))
  batch = data.training_batches(source, 16, 2, seed=0)[0]
  assert batch.shape == (2, 16, 16, 3)
  with pytest.raises(UserError, match="cannot open tfds dataset"):
    data.make_source("tfds:no_such_dataset", str(data_dir))
  assert not os.path.exists(data_dir / "no_such_dataset")


def test_each_example_draws_its_style_by_seed_and_step_and_hosts_share_one_draw():
  styles = np.arange(5, dtype=np.uint8)[:, None, None, None] * np.ones((5, 4, 4, 3), np.uint8)
  whole = data.styles_for_step(styles, 7, 6, seed=0)
  np.testing.assert_array_equal(whole, data.styles_for_step(styles, 7, 6, seed=0))  # a resumed run draws the same
  halves = [data.styles_for_step(styles, 7, 6, 0, index, 2) for index in range(2)]
  np.testing.assert_array_equal(np.concatenate(halves), np.concatenate([whole[0::2], whole[1::2]]))
  assert len({int(s[0, 0, 0]) for step in range(20) for s in data.styles_for_step(styles, step, 6, 0)}) == 5
