"""The `video_score` job (configs/video_score.py): how steady and how stylised trained networks are on clips.

For every clip (synthetic motion made from a photo, with exact flow: stylejax.core.motion; or a real video,
its flow estimated by OpenCV's DIS, forward and backward, occlusions by the forward-backward check) and every
model, the clip is stylised frame by frame and, for a network that carries state between frames (the
bilateral-grid kinds), also with its transforms smoothed in time (stylejax.core.temporal). Reported:

- the warping error (Lai et al. 2018; stylejax.core.warping) of the input clip itself (the floor that noise,
  lighting and flow errors set), and of each stylised clip, absolute and as a multiple of the floor;
- the per-frame quality of each stylised clip, on every `score_every`-th frame, with the fixed scoring
  protocol's style and content distances (stylejax.core.scoring: VGG16), so that steadiness bought by washing
  the style out shows.

Writes video_score.json, video_score.md (the table), and per clip (named by its motion or file name) a strip
of consecutive frames (strip_NAME.jpg: the input, then each row's output) and a plot of the per-frame warping
error (errors_NAME.png).
"""

import os

import numpy as np

from stylejax import api, settings
from stylejax.core import motion, scoring, temporal, warping
from stylejax.errors import UserError
from stylejax.io import assets, images, runlog, video, weights

STRIP_FRAMES = 4  # consecutive frames in each clip's strip


def dis_flows(frames):
  """(forward flows, masks) of real frames by OpenCV's DIS optical flow (Kroeger et al. 2016), forward and
  backward, masks by the forward-backward check (stylejax.core.warping.visible)."""
  try:
    import cv2
  except ImportError:
    raise UserError("real clips need OpenCV's optical flow: pip install opencv-python-headless") from None
  dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
  grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
  flows, masks = [], []
  for first, second in zip(grey, grey[1:]):
    forward, backward = (dis.calc(a, b, None)[..., ::-1].astype(np.float32) for a, b in ((first, second),
                                                                                            (second, first)))
    flows.append(forward)
    masks.append(np.asarray(warping.visible(forward, backward)))
  return flows, masks


def load_clip(spec, config):
  """(name, motion.Clip) for a synthetic motion's name (motion.MOTIONS, made from config.photo) or a video file
  (its first config.max_frames frames, shrunk to config.size on the long side; flow by `dis_flows`)."""
  if spec in motion.MOTIONS:
    photo = np.asarray(images.read_rgb(assets.resolve(config.photo), config.max_input_pixels))
    size = (round(config.size * 9 / 16) // 2 * 2, config.size)
    return f"{spec} (noise σ {config.noise:g})", motion.synthetic_clip(
        photo, motion.preset(spec, config.noise), config.frames, size, seed=config.seed)
  clip = video.probe(spec)
  frames = []
  for frame in video.read(clip):
    frames.append(images.to_uint8(images.at_long_side(images.from_array(frame), config.size)))
    if len(frames) == config.max_frames:
      break
  return os.path.basename(spec), motion.Clip(frames, *dis_flows(frames))


def style_image(spec, config):
  """A style photo (a path or bundled:NAME) at the scoring size, float32."""
  return images.at_long_side(images.read_rgb(assets.resolve(spec), config.max_input_pixels), scoring.SIZE)


def stylise(model, frames, style, decay, batch_size):
  """The clip's frames through `model` with smoothing `decay` (0: frame by frame), as uint8 frames."""
  frames = np.stack(frames).astype(np.float32)
  pad = -len(frames) % batch_size
  frames = np.concatenate([frames, frames[-1:].repeat(pad, 0)]) if pad else frames
  state = model.clip_start((batch_size,) + frames.shape[1:], style, temporal.Smoothing(decay))
  out = []
  for start in range(0, len(frames), batch_size):
    result, state = model.stylize_frames(frames[start:start + batch_size], state, style)
    out.extend(images.to_uint8(np.asarray(result)))
  return out[:len(frames) - pad]


def quality(vgg, outputs, frames, style, every):
  """(style distance, content distance): means over every `every`-th frame (scoring protocol, VGG16)."""
  distances = [scoring.feature_distances(vgg, outputs[k], frames[k], style) for k in range(0, len(frames), every)]
  return tuple(float(np.mean(values)) for values in zip(*distances))


def model_names(model_dirs):
  """{model dir: its name in the table}: the folder's name, with its parent's where two folders share one
  (stylejax/assets/models/starry_night and .../video/starry_night)."""
  bases = [os.path.basename(os.path.normpath(path)) for path in model_dirs]
  return {path: base if bases.count(base) == 1 else "/".join(os.path.normpath(path).split(os.sep)[-2:])
          for path, base in zip(model_dirs, bases)}


def rows_of(name, model, config):
  """[(row name, smoothing decay)]: frame by frame, and smoothed for a kind that carries state between frames."""
  rows = [(f"{name}, frame by frame", 0.0)]
  if model.net.smooths_in_time:
    rows.append((f"{name}, smoothed (decay {config.smoothing:g})", config.smoothing))
  return rows


def strip(frames, outputs, path):
  """A JPEG of STRIP_FRAMES consecutive frames from the middle: the input on top, each row's output below."""
  middle = max(0, len(frames) // 2 - STRIP_FRAMES // 2)
  picked = slice(middle, middle + STRIP_FRAMES)
  rows = [np.concatenate(row[picked], axis=1) for row in [frames, *outputs]]
  images.save_image(path, np.concatenate(rows, axis=0), quality=85)


def plot(per_frame, path, title):
  """The per-frame warping error of each row (and the input's) as a PNG."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  figure, axes = plt.subplots(figsize=(7, 3.2), dpi=110)
  for name, errors in per_frame.items():
    axes.plot(np.arange(len(errors)), errors, label=name, linewidth=1.2)
  axes.set(xlabel="frame pair t, t+1", ylabel="warping error", title=title, yscale="log")
  axes.legend(fontsize=7)
  figure.tight_layout()
  figure.savefig(path)
  plt.close(figure)


def markdown(results):
  lines = ["Warping error (Lai et al. 2018; pixels in [0, 1]) and per-frame quality (stylejax.core.scoring, VGG16)",
           "", "| clip | output | warping error | × the input's | style distance | content distance |",
           "|---|---|---|---|---|---|"]
  for clip, result in results.items():
    lines.append(f"| {clip} | input clip (floor) | {result['floor']:.3g} | 1 | | |")
    for name, row in result["rows"].items():
      ratio = f"{row['warping_error'] / result['floor']:.2f}" if result["floor"] > 0 else "—"  # an exact clip
      lines.append(f"| {clip} | {name} | {row['warping_error']:.3g} | {ratio} | {row['style']:.3g} "
                   f"| {row['content']:.3g} |")
  return "\n".join(lines) + "\n"


def run(config, workdir):
  model_dirs = settings.paths(config.models, "models")
  specs = settings.paths(config.clips, "clips")
  if not model_dirs or not specs:
    raise UserError("set --config.models (model directories) and --config.clips (motions or video files)")
  models, names = {path: api.load_model(path) for path in model_dirs}, model_names(model_dirs)
  given_style = style_image(config.style, config) if config.style else None
  vgg = weights.load_vgg("vgg16")
  os.makedirs(workdir, exist_ok=True)
  results = {}
  for spec in specs:
    name, clip = load_clip(spec, config)
    short = os.path.splitext(os.path.basename(spec))[0]
    floor, floor_pairs = warping.warping_error(clip.frames, clip.flows, clip.masks)
    result, outputs, per_frame = {"floor": floor, "rows": {}}, [], {"input clip": floor_pairs}
    for path, model in models.items():
      model.check_style(given_style is not None, "--config.style")
      style = given_style if given_style is not None else style_image(
          settings.paths(model.config.style, "style")[0], config)
      for row, decay in rows_of(names[path], model, config):
        out = stylise(model, clip.frames, given_style, decay, config.batch_size)
        error, pairs = warping.warping_error(out, clip.flows, clip.masks)
        style_distance, content_distance = quality(vgg, out, clip.frames, style, config.score_every)
        result["rows"][row] = {"warping_error": error, "style": style_distance, "content": content_distance}
        outputs.append(out)
        per_frame[row] = pairs
    results[name] = result
    strip(clip.frames, outputs, os.path.join(workdir, f"strip_{short}.jpg"))
    plot(per_frame, os.path.join(workdir, f"errors_{short}.png"), name)
    runlog.write_json(os.path.join(workdir, "video_score.json"), results)
  table = markdown(results)
  with open(os.path.join(workdir, "video_score.md"), "w") as f:
    f.write(table)
  print(table)
  return results
