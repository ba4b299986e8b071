"""Video files in and out through FFmpeg's libraries (PyAV): probing, decoding frames, encoding segments,
and assembling segments with the source's audio into one file. A folder of frames (images) reads as a clip too.

A clip is written as segments (one file per chunk of frames, each starting with a key frame) that
`assemble` joins without re-encoding, the source's first audio stream copied beside them; so a killed
job keeps its finished chunks and a rerun writes the same bytes (the encoders are deterministic).
Outputs keep the input's container (mp4, m4v, mov, mkv, webm, gif; avi becomes mp4), frame rate, size and
frame count. Frames are written at a constant rate, the input's average (a variable-rate input is
retimed). Video is H.264 (yuv420p; yuv444p where a side is odd), VP9 in webm, and GIF with a palette per
frame (PIL's median cut).

Unreadable, truncated and damaged files, and codecs FFmpeg cannot decode, are UserErrors of one line
that name the file.
"""

import contextlib
import dataclasses
import fractions
import heapq
import os

import av
import numpy as np
import PIL.Image
import PIL.ImageOps

from stylejax.errors import UserError
from stylejax.io import atomic, data, images

EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif")
WRITTEN_AS = {".avi": ".mp4"}  # containers written as another
ENCODERS = {".webm": "libvpx-vp9", ".gif": "gif"}  # the others: libx264
QUALITY = {"libx264": {"crf": "18", "bf": "0", "preset": "veryfast"},  # no B-frames: segments join cleanly
           "libvpx-vp9": {"crf": "30", "b:v": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"}, "gif": {}}


def is_video(path):
  """Whether `path` has a video extension (EXTENSIONS)."""
  return os.path.splitext(path)[1].lower() in EXTENSIONS


def is_clip(path):
  """Whether `path` is a video to stylise as one: a video extension, and more than one frame for a GIF (a still
  GIF is an image)."""
  if not is_video(path):
    return False
  if os.path.splitext(path)[1].lower() != ".gif":
    return True
  try:
    with PIL.Image.open(path) as image:
      return getattr(image, "n_frames", 1) > 1
  except (OSError, ValueError):
    return True  # damaged: reading it as a video names the problem


def output_extension(path):
  """The extension a stylised copy of the video `path` is written with (a folder of frames: mp4)."""
  extension = os.path.splitext(path)[1].lower()
  return WRITTEN_AS.get(extension, extension) if extension in EXTENSIONS else ".mp4"


@dataclasses.dataclass(frozen=True)
class Clip:
  """What a video file holds: its first video stream's size, frame rate and frame count, and whether it has
  an audio stream."""
  path: str
  width: int
  height: int
  rate: fractions.Fraction
  frames: int
  audio: bool


def _describe(error):
  return " ".join(str(getattr(error, "strerror", None) or error).split())


def _open(path, **options):
  try:
    return av.open(path, **options)
  except FileNotFoundError:
    raise UserError(f"video not found: {path}") from None
  except (av.error.FFmpegError, OSError, UnicodeDecodeError) as e:
    raise UserError(f"{path} is not a readable video ({_describe(e)})") from None


def _video_stream(container, path):
  if not container.streams.video:
    raise UserError(f"{path} has no video stream")
  stream = container.streams.video[0]
  if stream.codec_context is None or not stream.codec_context.width:
    raise UserError(f"{path}: its video codec cannot be decoded here")
  return stream


def probe(path, rate=None):
  """The Clip of a video file (its frames counted by reading its packets, which costs little: no decoding), or of
  a folder of frames (its images in name order: name them 000001.png, ...) played at `rate` (default 25)."""
  if os.path.isdir(path):
    frames = data.image_files(path)
    with PIL.Image.open(frames[0]) as first:
      width, height = PIL.ImageOps.exif_transpose(first).size
    return Clip(path, width, height, fractions.Fraction(rate or 25).limit_denominator(1001), len(frames), False)
  with _open(path) as container:
    stream = _video_stream(container, path)
    rate = stream.average_rate or stream.guessed_rate or fractions.Fraction(25)
    try:  # counted, not read from the header: a GIF's is wrong, a webm has none
      frames = sum(1 for packet in container.demux(stream) if packet.size)
    except av.error.FFmpegError as e:
      raise UserError(f"{path} is damaged ({_describe(e)})") from None
    if not frames:
      raise UserError(f"{path} has no frames")
    return Clip(path, stream.codec_context.width, stream.codec_context.height, fractions.Fraction(rate), frames,
                bool(container.streams.audio))


def read(clip, start=0):
  """Yields the frames of `clip` (a Clip) from frame `start` on, each (H, W, 3) uint8 RGB; a file that ends
  before its announced frame count or cannot be decoded is a UserError, as is a folder's frame of another size."""
  if os.path.isdir(clip.path):
    for path in data.image_files(clip.path)[start:]:
      frame = np.asarray(images.read_rgb(path))
      if frame.shape != (clip.height, clip.width, 3):
        raise UserError(f"{path} is {frame.shape[1]}x{frame.shape[0]} px, the first frame of {clip.path} "
                        f"{clip.width}x{clip.height}: the frames of a video have one size")
      yield frame
    return
  with _open(clip.path) as container:
    stream = _video_stream(container, clip.path)
    stream.thread_type = "AUTO"
    count = 0
    try:
      for frame in container.decode(stream):
        if count >= start:
          yield frame.to_ndarray(format="rgb24")
        count += 1
    except av.error.FFmpegError as e:
      raise UserError(f"{clip.path} is damaged at frame {count} of {clip.frames} ({_describe(e)})") from None
  if count < clip.frames:
    raise UserError(f"{clip.path} ends after {count} of its {clip.frames} frames (truncated?)")


def _pal8(image):
  """An RGB image as a pal8 frame: 256 colours by median cut, no dithering (which would flicker)."""
  quantised = PIL.Image.fromarray(image).quantize(256, dither=PIL.Image.Dither.NONE)
  palette = np.zeros((256, 4), np.uint8)
  colours = np.asarray(quantised.getpalette(), np.uint8).reshape(-1, 3)[:256]
  palette[:len(colours), 1:], palette[:, 0] = colours, 255  # ARGB
  return av.VideoFrame.from_ndarray((np.asarray(quantised), palette), format="pal8")


class Segment:
  """Writes the frames `first`, `first` + 1, ... of a stylised `clip` as one video file `path` (the output's
  container; written atomically by `close`), each frame timed at its place in the whole clip."""

  def __init__(self, path, clip, first):
    self._files = contextlib.ExitStack()
    self._container = _open(self._files.enter_context(atomic.writing(path)), mode="w", format=_format(path))
    codec = ENCODERS.get(os.path.splitext(path)[1].lower(), "libx264")
    self._stream = self._container.add_stream(codec, rate=clip.rate)
    self._stream.width, self._stream.height = clip.width, clip.height
    odd = clip.width % 2 or clip.height % 2
    self._stream.pix_fmt = "pal8" if codec == "gif" else "yuv444p" if odd else "yuv420p"
    self._stream.options = dict(QUALITY[codec])
    self._next, self._rate = first, clip.rate

  def write(self, image):
    """Appends one frame (H, W, 3) uint8."""
    if self._stream.pix_fmt == "pal8":
      frame = _pal8(image)
    else:
      frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    frame.pts, frame.time_base = self._next, 1 / self._rate
    self._next += 1
    self._container.mux(self._stream.encode(frame))

  def close(self):
    """Flushes the encoder and moves the file into place."""
    self._container.mux(self._stream.encode(None))
    self._container.close()
    self._files.close()

  def abandon(self):
    """Closes without keeping the file (the job stopped in the middle of this segment)."""
    self._container.close()
    self._files.__exit__(GeneratorExit, GeneratorExit(), None)  # atomic.writing removes its temporary file


def _format(path):
  """The FFmpeg muxer for a path's extension (the temporary file beside it has none)."""
  return {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm",
          ".gif": "gif"}[os.path.splitext(path)[1].lower()]


def _packets(container, stream, order, start=None):
  """(time in s, order, packet) of a stream's packets; with `start` (s), shifted to begin there (a segment's
  container may start its own times at 0, as mov does, whatever times its frames were given)."""
  shift = None
  for packet in container.demux(stream):
    if packet.dts is None:  # the demuxer's empty flush packet
      continue
    if shift is None:
      shift = 0 if start is None else round(start / packet.time_base) - packet.pts
    packet.pts, packet.dts = packet.pts + shift, packet.dts + shift
    yield float(packet.pts * packet.time_base), order, packet


def _transcoded(source, stream, codec, order):
  """The packets of the audio `stream` of `source` re-encoded by `stream`'s encoder `codec` (an output stream)."""
  def encoded(frame):
    for packet in codec.encode(frame):
      yield float(packet.pts * packet.time_base), order, packet

  for frame in source.decode(stream):
    yield from encoded(frame)
  yield from encoded(None)


def _audio(source, output, order):
  """(stream, packets) of the source's first audio stream in `output`: copied where the container takes its
  codec, else re-encoded to the container's own (aac in mp4 and mov, Opus in webm)."""
  audio = source.streams.audio[0]
  if audio.codec_context.name in output.supported_codecs:
    return output.add_stream_from_template(audio), _packets(source, audio, order)
  stream = output.add_stream(output.default_audio_codec, rate=48000 if "opus" in output.default_audio_codec
                             else audio.codec_context.sample_rate)
  return stream, _transcoded(source, audio, stream, order)


def assemble(segments, target, clip):
  """Joins the segments [(file, its first frame's number in the clip)] (in order) into `target` without re-encoding
  (a GIF's frames are re-encoded, exactly: they have a palette each), with the first audio stream of the source
  `clip` beside them (`_audio`; none in a GIF); atomic."""
  if _format(target) == "gif":  # a GIF keeps its first frame's palette in its header: joined, frames re-encoded
    whole = Segment(target, clip, 0)
    for path, _ in segments:
      for frame in read(probe(path)):
        whole.write(frame)
    whole.close()
    return
  inputs = [_open(path) for path, _ in segments]
  with_audio = clip.audio
  source = _open(clip.path) if with_audio else None
  try:
    with atomic.writing(target) as file, _open(file, mode="w", format=_format(target)) as output:
      streams = [output.add_stream_from_template(inputs[0].streams.video[0])]
      parts = [_packets(container, container.streams.video[0], 0, float(first / clip.rate))
               for container, (_, first) in zip(inputs, segments)]
      if with_audio:
        stream, packets = _audio(source, output, 1)
        streams.append(stream)
        parts.append(packets)
      for _, order, packet in heapq.merge(*parts, key=lambda p: p[:2]):
        packet.stream = streams[order]
        output.mux(packet)
  except av.error.FFmpegError as e:
    raise UserError(f"could not write {target} ({_describe(e)})") from None
  finally:
    for container in inputs + [source] * with_audio:
      container.close()


def shrunk(clip, target, max_side):
  """`clip` (a Clip) at most `max_side` px on its long side, written to `target` (mp4, sides even, the frames
  resized with a Lanczos filter, the audio kept: `assemble`), and its Clip; the clip itself where it is that
  small already."""
  if max(clip.width, clip.height) <= max_side:
    return clip
  height, width = (side // 2 * 2 or 2 for side in images.fit_long_side(clip.height, clip.width, max_side))
  small = dataclasses.replace(clip, width=width, height=height)
  frames = target + ".video.mp4"
  segment = Segment(frames, small, 0)
  try:
    for frame in read(clip):
      segment.write(np.asarray(PIL.Image.fromarray(frame).resize((width, height), PIL.Image.Resampling.LANCZOS)))
  except BaseException:
    segment.abandon()
    raise
  segment.close()
  assemble([(frames, 0)], target, clip)
  os.remove(frames)
  return dataclasses.replace(small, path=target)
