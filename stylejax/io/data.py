"""Content photos for training feed-forward networks, as deterministic grain pipelines.

Sources (config `data`):
  samples       the bundled photos plus scikit-image's bundled photos (demos, tests);
  folder:PATH   every image file below PATH; unreadable files are skipped and counted;
  files:A,B,... these image files (e.g. one split of a folder), read as `folder:`'s;
  tfds:NAME     a prepared tensorflow-datasets dataset in array_record format, read
                with `tfds.data_source` (random access, no TensorFlow);
                `build_tfds` writes one from a folder of images, also without TensorFlow.

Each record becomes RGB, its shorter side is resized to `image_size` and a
square is cropped: at random with a random horizontal flip for training, in
the centre otherwise. Batch k is a pure function of (seed, k): grain shuffles
with the seed (a new order every epoch) and gives each index its own random
generator for the crop, so a run resumed at step k reads exactly the batches
an uninterrupted run reads. The iterator's state (grain's `get_state`, the
next batch index) is saved in every checkpoint.
"""

import io
import os
import threading

import grain
import numpy as np
from PIL import Image

from stylejax.io import assets, images
from stylejax.errors import UserError

SAMPLE_ASSETS = ("chelsea.jpg", "astronaut.jpg", "rocket.jpg", "coffee.jpg")
# scikit-image's bundled photographs (colour and grey) that are not copies of our assets.
SKIMAGE_PHOTOS = ("hubble_deep_field.jpg", "motorcycle_left.png", "motorcycle_right.png", "camera.png",
                  "brick.png", "grass.png", "gravel.png", "moon.png")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")
TFDS_NAME = "stylejax_images"


def sample_paths():
  """The `samples` source's files: bundled photos plus scikit-image's."""
  import skimage.data  # only this source needs it
  skimage_dir = os.path.dirname(skimage.data.__file__)
  return ([assets.path(name) for name in SAMPLE_ASSETS]
          + [os.path.join(skimage_dir, name) for name in SKIMAGE_PHOTOS])


def image_files(root, extensions=IMAGE_EXTENSIONS):
  """Every file below `root` (recursively) with an image extension (or one of `extensions`), sorted.

  Symbolic links are followed, but each real folder and each real file is
  listed once: a link loop or a second link to the same photo adds nothing.
  """
  if not os.path.isdir(root):
    raise UserError(f"data folder not found: {root}")
  folders, files, paths = set(), set(), []
  for folder, subfolders, names in os.walk(root, followlinks=True):
    identity = os.stat(folder)
    if (identity.st_dev, identity.st_ino) in folders:
      subfolders[:] = []  # reached again through a link: already listed
      continue
    folders.add((identity.st_dev, identity.st_ino))
    subfolders.sort()
    for name in sorted(names):
      path = os.path.join(folder, name)
      if name.lower().endswith(extensions) and os.path.isfile(path) and os.path.realpath(path) not in files:
        files.add(os.path.realpath(path))
        paths.append(path)
  if not paths:
    raise UserError(f"no image files ({', '.join(extensions)}) below {root}")
  return sorted(paths)


class FileSource:
  """Random access to image files as RGB PIL images.

  A file that cannot be decoded is recorded in `unreadable` and replaced by the
  next readable file (in index order), so the batch sequence stays a function
  of the seed alone.
  """

  def __init__(self, paths, max_pixels=images.DEFAULT_MAX_PIXELS):
    self.paths = list(paths)
    self.max_pixels = max_pixels
    self.unreadable = set()
    self._lock = threading.Lock()

  def __len__(self):
    return len(self.paths)

  def __getitem__(self, index):
    for offset in range(len(self.paths)):
      path = self.paths[(index + offset) % len(self.paths)]
      try:
        return images.open_rgb(path, self.max_pixels)
      except UserError:
        with self._lock:
          self.unreadable.add(path)
    raise UserError(f"none of the {len(self.paths)} data files can be read, e.g. {self.paths[0]}")


class TfdsSource:
  """A prepared tfds dataset's `image` feature as RGB PIL images (random access)."""

  def __init__(self, name, data_dir=None, split="train"):
    import tensorflow_datasets as tfds
    try:
      self._source = tfds.data_source(name, split=split, data_dir=data_dir or None)
    except Exception as e:  # tfds raises several types for a missing or unprepared dataset
      raise UserError(f"cannot open tfds dataset {name!r} (split {split}) in {data_dir or 'the tfds data dir'}: "
                      f"{str(e).splitlines()[0]}; prepare it first (see stylejax.data.build_tfds)") from None
    self.unreadable = set()

  def __len__(self):
    return len(self._source)

  def __getitem__(self, index):
    image = self._source[index]["image"]
    if isinstance(image, bytes):
      return images.open_rgb(io.BytesIO(image), name=f"record {index}")
    image = np.asarray(image)
    return Image.fromarray(np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3])


def make_source(spec, data_dir="", max_pixels=images.DEFAULT_MAX_PIXELS):
  """`samples`, `folder:PATH`, `files:A,B,...` or `tfds:NAME` -> a random-access source of RGB PIL images."""
  kind, _, arg = spec.partition(":")
  if kind == "samples" and not arg:
    return FileSource(sample_paths(), max_pixels)
  if kind == "folder" and arg:
    return FileSource(image_files(os.path.expanduser(arg)), max_pixels)
  if kind == "files":
    paths = [os.path.expanduser(path) for path in arg.split(",") if path]
    if not paths:
      raise UserError("the data source files: lists no files; give them comma-separated (files:A,B,...)")
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
      raise UserError(f"data files not found: {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
    return FileSource(paths, max_pixels)
  if kind == "tfds" and arg:
    return TfdsSource(arg, data_dir)
  raise UserError(f"unknown data source {spec!r}; use samples, folder:PATH, files:A,B,... or tfds:NAME")


def square_crop(img, size, rng=None):
  """Shorter side resized to `size`, then a size×size crop -> uint8 (size, size, 3).

  With a numpy Generator `rng`: random crop position and a coin-flip horizontal
  mirror (training); without: the centre crop.
  """
  scale = size / min(img.size)
  width, height = max(size, round(img.width * scale)), max(size, round(img.height * scale))
  img = img.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
  if rng is None:
    left, top = (width - size) // 2, (height - size) // 2
  else:
    left, top = int(rng.integers(width - size + 1)), int(rng.integers(height - size + 1))
  crop = np.asarray(img.crop((left, top, left + size, top + size)), np.uint8)
  return crop[:, ::-1] if rng is not None and rng.integers(2) else crop


def training_batches(source, image_size, batch_size, seed, shard_index=0, shard_count=1):
  """grain MapDataset: batch k = (batch_size, image_size, image_size, 3) uint8, endless.

  Epochs are reshuffled with `seed`; with several hosts each takes every
  `shard_count`-th record of the shuffled stream, so with a local batch of
  batch_size / shard_count the hosts' batches together are one host's batch.
  """
  dataset = grain.MapDataset.source(source).seed(seed).shuffle().repeat(None)
  # Crops are drawn before sharding, so record k gets the same crop whichever host takes it.
  dataset = dataset.random_map(lambda img, rng: square_crop(img, image_size, rng))
  if shard_count > 1:
    dataset = dataset[shard_index::shard_count]
  return dataset.batch(batch_size, drop_remainder=True)


def style_examples(paths, size, max_pixels=images.DEFAULT_MAX_PIXELS):
  """The style set of a network that takes a style input: each image's centre square at `size`,
  (N, size, size, 3) uint8."""
  return np.stack([square_crop(images.read_rgb(path, max_pixels), size) for path in paths])


def styles_for_step(styles, step, batch_size, seed, shard_index=0, shard_count=1):
  """This host's share of the style images of global batch `step`: example k of the global batch takes a
  style drawn from (seed, step), so a resumed run and any number of hosts draw the same ones."""
  picks = np.random.default_rng((seed, step)).integers(len(styles), size=batch_size)
  return styles[picks[shard_index::shard_count]]


def iterate(dataset, num_threads=4, prefetch=8, state=None):
  """A checkpointable iterator over `dataset`, decoding in threads; `state` resumes one."""
  iterator = iter(dataset.to_iter_dataset(grain.ReadOptions(num_threads=num_threads,
                                                            prefetch_buffer_size=prefetch)))
  if state is not None:
    iterator.set_state(state)
  return iterator


def build_tfds(folder, data_dir, name=TFDS_NAME, short_side=0):
  """Writes the images below `folder` as the tfds dataset `name` (array_record, split
  `train`) in `data_dir`, without TensorFlow; returns the number of images written.

  E.g. an unzipped COCO train2017:
      python -c "from stylejax import data; data.build_tfds('train2017', '~/tfds')"
  then train with `--config.data=tfds:stylejax_images --config.data_dir=~/tfds`.
  Unreadable files are skipped (and counted in the printed summary). `short_side`
  > 0 stores every image with its shorter side reduced to that many pixels.
  """
  import tensorflow_datasets as tfds

  paths = image_files(folder)
  skipped = []

  def examples():
    for path in paths:
      try:
        img = images.open_rgb(path)
      except UserError:
        skipped.append(path)
        continue
      if 0 < short_side < min(img.size):
        scale = short_side / min(img.size)
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
      yield os.path.relpath(path, folder), {"image": img, "name": os.path.relpath(path, folder)}

  class Builder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
      return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
          "image": tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"),
          "name": tfds.features.Text()}))

    def _split_generators(self, dl_manager):
      return {"train": self._generate_examples()}

    def _generate_examples(self):
      return examples()

  Builder.name = name
  builder = Builder(data_dir=os.path.expanduser(data_dir), file_format="array_record")
  builder.download_and_prepare()
  print(f"wrote {len(paths) - len(skipped)} images to {builder.data_dir}; skipped {len(skipped)} unreadable")
  return len(paths) - len(skipped)
