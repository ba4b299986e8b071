"""The universal photorealistic network (kind "universal", configs/universal_photo.py): a bilateral grid conditioned
on a style photo given at inference; from the network to train, resume, export and stylize with any style."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import export as export_preset, universal_photo
from experiments import universal_vs_luan
from stylejax import api, launch, settings
from stylejax.core import networks, xla
from stylejax.core.networks import bilateral, universal
from stylejax.errors import UserError
from stylejax.io import assets, configs, images, weights
from stylejax.jobs import stylize
from stylejax.methods import refine, training
from tests.helpers import (assert_bitwise_equal, cat_beside_cup, final_params, random_params, stylize_cfg,
                           tiny_photo_config)

TINY_NET = {"low_res": 32, "grid_size": 8, "grid_depth": 4, "width": 4}


def _photo(shape, seed=0):
  return jnp.asarray(np.random.default_rng(seed).uniform(0, 255, shape), jnp.float32)


def _mean_and_covariance(images):
  flat = np.asarray(images, np.float64).reshape(images.shape[0], -1, 3)
  centred = flat - flat.mean(1, keepdims=True)
  return flat.mean(1), np.einsum("bpi,bpj->bij", centred, centred) / flat.shape[1]


def test_the_colour_transfer_moves_the_colour_mean_and_covariance_to_the_styles():
  rng = np.random.default_rng(0)
  mix = np.array([[1.0, 0.3, 0.0], [0.2, 0.8, 0.1], [0.0, 0.4, 0.6]])
  contents = jnp.asarray(rng.uniform(0, 1, (2, 24, 20, 3)) @ mix.T / 1.4, jnp.float32)  # correlated channels
  styles = jnp.asarray(rng.uniform(0, 1, (2, 16, 30, 3)) * [0.3, 0.5, 0.9] + [0.1, 0.0, 0.05], jnp.float32)
  affine = universal.colour_transfer(contents, styles)
  moved_mean, moved_cov = _mean_and_covariance(universal.apply_affine(affine, contents))
  style_mean, style_cov = _mean_and_covariance(styles)
  np.testing.assert_allclose(moved_mean, style_mean, atol=1e-5)
  epsilon = universal.COLOUR_EPSILON * np.eye(3)  # T (Σ_c + εI) Tᵀ = Σ_s + εI
  transform = np.asarray(affine[..., :3], np.float64)
  np.testing.assert_allclose(moved_cov + transform @ epsilon @ transform.transpose(0, 2, 1), style_cov + epsilon,
                             atol=1e-5)
  np.testing.assert_allclose(transform, transform.transpose(0, 2, 1), atol=1e-5)  # symmetric: least displacement
  same = universal.colour_transfer(contents, contents)
  np.testing.assert_allclose(same, np.broadcast_to(np.eye(3, 4), same.shape), atol=1e-4)  # its own style: identity


def _halves(height, width, top, bottom):
  """An image (1, H, W, 3) whose top half is colour `top`, bottom half `bottom` (0..255) with a little noise, and
  its two region masks (1, H, W, 2)."""
  rng = np.random.default_rng(height)
  image = np.where(np.arange(height)[:, None, None] < height // 2, top, bottom) * np.ones((height, width, 3))
  image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255)
  masks = np.zeros((height, width, 2), np.float32)
  masks[:height // 2, :, 0], masks[height // 2:, :, 1] = 1, 1
  return jnp.asarray(image[None], jnp.float32), jnp.asarray(masks[None])


def test_with_masks_each_region_takes_the_colours_of_its_own_style_region_and_one_region_is_the_global_transfer():
  """Untrained (the grid the identity), the output is the colour transfer alone: with masks, made per region,
  each half of the photo moves to the mean colour of the matching half of the style (without masks both move
  to the style's overall mean); a single region covering everything gives the global transfer."""
  net = networks.build("universal", TINY_NET)
  content, content_masks = _halves(48, 40, (230, 190, 190), (40, 70, 40))  # pale pink sky over dark green
  style, style_masks = _halves(36, 52, (40, 40, 200), (220, 200, 40))  # blue over yellow
  params = net.init(jax.random.key(0), content, style)
  masked = np.asarray(net.apply(params, content, style, masks=(content_masks, style_masks)))[0]
  plain = np.asarray(net.apply(params, content, style))[0]
  for rows, colour in ((slice(4, 20), (40, 40, 200)), (slice(28, 44), (220, 200, 40))):
    np.testing.assert_allclose(masked[rows, 4:-4].mean((0, 1)), colour, atol=12)
    assert np.abs(plain[rows, 4:-4].mean((0, 1)) - colour).max() > 50
  whole = (jnp.ones((1, 48, 40, 1)), jnp.ones((1, 36, 52, 1)))
  np.testing.assert_allclose(net.apply(params, content, style, masks=whole)[0], plain, atol=0.5)


def _halves_mask(height, width):
  """Luan's colour-coded mask of two regions: blue above, green below."""
  mask = np.zeros((height, width, 3), np.uint8)
  mask[: height // 2, :, 2] = mask[height // 2:, :, 1] = 255
  return mask


def test_masks_through_the_api_from_luans_colour_files_and_refused_by_a_network_without_them(model_dir, tmp_path):
  net = networks.build("universal", TINY_NET)
  content, _ = _halves(48, 40, (230, 190, 190), (40, 70, 40))
  style, _ = _halves(36, 52, (40, 40, 200), (220, 200, 40))
  params = net.init(jax.random.key(0), content, style)
  model = api.Model(net, params, 0, None)
  images.save_image(tmp_path / "content_seg.png", _halves_mask(24, 20))  # Luan's blue over green, any size
  result = model.stylize(np.asarray(content[0]), np.asarray(style[0]), content_mask=str(tmp_path / "content_seg.png"),
                         style_mask=_halves_mask(36, 52))
  np.testing.assert_allclose(result[4:20, 4:-4].mean((0, 1)), (40, 40, 200), atol=12)
  with pytest.raises(UserError, match="needs both the content's and the style's mask"):
    model.stylize(np.asarray(content[0]), np.asarray(style[0]), content_mask=_halves_mask(48, 40))
  with pytest.raises(UserError, match="takes no region masks"):
    api.load_model(model_dir).stylize(np.asarray(content[0]), content_mask=_halves_mask(48, 40),
                                      style_mask=_halves_mask(36, 52))


def test_automatic_regions_give_each_part_of_the_photo_the_colours_of_the_same_part_of_the_style(model_dir):
  """A photo of a cat beside a cup, and a style of the cup (graded cool) beside the cat (graded warm): the
  automatic regions pair cat with cat and cup with cup (deep VGG features, colour aside), so each half of the
  untrained network's output (the region colour transfer) moves to its own half's colours; without regions both
  halves move to the style's overall colours."""
  content, style, warm, cool = cat_beside_cup()
  content_masks, style_masks = api.auto_regions(content, style, 2)
  assert content_masks.shape == (192, 384, 2) and style_masks.shape == (192, 384, 2)
  cat_region = content_masks[:, :192].mean((0, 1)).argmax()
  assert content_masks[:, :192, cat_region].mean() > 0.9 and style_masks[:, 192:, cat_region].mean() > 0.9

  net = networks.build("universal", TINY_NET)
  model = api.Model(net, net.init(jax.random.key(0), jnp.asarray(content[None]), jnp.asarray(style[None])), 0, None)
  matched, plain = model.stylize(content, style, regions=2), model.stylize(content, style)
  for half, target in ((slice(8, 88), warm), (slice(104, 184), cool)):
    distance = lambda out: np.abs(out[:, half].mean((0, 1)) - target.mean((0, 1))).max()  # noqa: E731
    assert distance(matched) < 0.5 * distance(plain)
  with pytest.raises(UserError, match=r"takes no region masks \(regions\)"):
    api.load_model(model_dir).stylize(content, regions=2)
  with pytest.raises(UserError, match="automatic regions and refinement are for photos"):
    model.stylize_video("clip.mp4", "out.mp4", style, api.StylizeOptions(regions=2))


def test_refinement_moves_the_grid_towards_the_style_at_any_size_and_zero_steps_is_the_network(model_dir,
                                                                                               monkeypatch):
  """Refining (Adam on the predicted grid against slow Luan's objective) lowers the style distance of the
  untrained network's output; the result keeps the photo's size, odd ones included; no steps is the one pass; a
  process past half its memory maps drops its compiled programs after each refined photo."""
  content, style, _, _ = cat_beside_cup()
  content = content[:, :185]  # 96x185
  net = networks.build("universal", TINY_NET)
  model = api.Model(net, net.init(jax.random.key(0), jnp.asarray(content[None]), jnp.asarray(style[None])), 0, None)
  plain, refined = model.stylize(content, style), model.stylize(content, style, refine_steps=20)
  assert refined.shape == content.shape and np.all(np.isfinite(refined))
  assert api.score(refined, content, style)["style"] < 0.8 * api.score(plain, content, style)["style"]
  objective, vgg = api.refine_objective()
  one_pass = networks.stylize(net, model.params, jnp.asarray(content[None]), jnp.asarray(style[None]))[0]
  np.testing.assert_allclose(refine.refine(net, model.params, content, style, None, objective, vgg, 0), one_pass,
                             atol=1e-3)
  with pytest.raises(UserError, match="has no grid to refine"):
    api.load_model(model_dir).stylize(content, refine_steps=2)
  drops = []
  monkeypatch.setattr(xla, "memory_maps", lambda: (40_000, 65_530))
  monkeypatch.setattr(xla.jax, "clear_caches", lambda: drops.append("dropped"))
  model.stylize_many([content, content], style, api.StylizeOptions(refine_steps=1))
  assert drops == ["dropped", "dropped"]


@pytest.mark.parametrize("content_size, style_size",
                         [((64, 64), (64, 64)), ((37, 53), (29, 41)), ((130, 17), (16, 90))])
def test_the_untrained_universal_net_is_the_global_colour_transfer_for_any_style_at_any_size(content_size,
                                                                                             style_size):
  """Untrained, the grid is the identity: the output is the closed-form colour transfer of the content's
  low-resolution view to the style's, applied to the full-size content; strength 0 returns the content."""
  net = networks.build("universal", TINY_NET)
  params = net.init(jax.random.key(0), _photo((1, 16, 16, 3)), _photo((1, 16, 16, 3), 1))
  contents = _photo((2, *content_size, 3))
  for seed in (1, 2):
    styles = _photo((2, *style_size, 3), seed) * 0.5  # darker than the contents
    out, own = net.train_apply(params, contents, styles)
    views = [bilateral.low_resolution(images / 255.0, TINY_NET["low_res"]) for images in (contents, styles)]
    expected = np.clip(universal.apply_affine(universal.colour_transfer(*views), contents / 255.0), 0, 1) * 255
    assert out.shape == contents.shape
    np.testing.assert_allclose(out, expected, atol=1e-2)
    assert float(jnp.mean(out)) < float(jnp.mean(contents)) - 20  # towards the darker style
    assert float(own["grid_smoothness"]) == 0.0
    np.testing.assert_allclose(networks.stylize(net, params, contents, styles, strength=0.0), contents, atol=1e-3)


def test_the_style_input_changes_the_output_and_each_example_sees_only_its_own_style():
  net = networks.build("universal", TINY_NET)
  params = random_params(net)
  contents = _photo((2, 37, 53, 3)) * 0.5 + 64  # inside [64, 192]: little clipping
  styles = _photo((2, 29, 41, 3), 1).at[1].multiply(0.3)  # a dark style beside a bright one
  out = networks.stylize(net, params, contents, styles)
  assert out.shape == contents.shape and bool(jnp.all(jnp.isfinite(out)))
  np.testing.assert_array_equal(out, networks.stylize(net, params, contents, styles))  # same style, same output
  swapped = networks.stylize(net, params, contents, styles[::-1])
  assert float(jnp.abs(swapped - out).mean()) > 0.5  # the style input matters
  alone = networks.stylize(net, params, contents[:1], styles[:1])
  np.testing.assert_allclose(alone[0], out[0], atol=1e-3)  # the batch's other style does not leak in
  np.testing.assert_allclose(networks.stylize(net, params, contents, styles, strength=0.0), contents, atol=1e-3)


@pytest.mark.parametrize("arg", ["", "cpu"])
def test_the_preset_network_has_at_most_two_million_parameters_and_no_vgg(arg):
  config = universal_photo.get_config(arg or None)
  net = settings.network(config)
  assert isinstance(net, universal.Universal) and net.takes_style and net.photorealistic
  inputs = jax.ShapeDtypeStruct((1, config.image_size, config.image_size, 3), jnp.float32)
  params = jax.eval_shape(lambda x: net.init(jax.random.key(0), x, x), inputs)
  assert sum(p.size for p in jax.tree.leaves(params)) <= 2_000_000
  assert all(name.startswith(("Conv_", "Dense_", "Guide_")) for name in params)  # its own small layers, no VGG


def test_its_settings_are_the_bilateral_networks_checked_alike():
  assert networks.build("universal", TINY_NET).module().low_res == 32
  for bad, message in (({"low_res": 100, "grid_size": 16}, "power of 2"), ({"padding": "mirror"}, "unknown padding"),
                       ({"width": 0}, "width must be in"), ({"style_size": 8}, "not a setting of a universal")):
    with pytest.raises(ValueError, match=message):
      networks.build("universal", bad)


def test_adain_moves_the_content_features_to_the_style_statistics():
  """AdaIN(x, y) (Huang & Belongie 2017, eq. 8): per image and channel, the result has y's mean and std."""
  content, style = _photo((2, 9, 7, 5)), _photo((2, 4, 6, 5), 1) * 0.2 + 30
  moved_mean, moved_std = universal.moments(universal.adain(content, style))
  style_mean, style_std = universal.moments(style)
  np.testing.assert_allclose(moved_mean, style_mean, rtol=1e-4)
  np.testing.assert_allclose(moved_std, style_std, rtol=1e-4)


def test_a_style_photo_is_refused_by_a_network_without_a_style_input_and_required_by_one():
  bilateral = api.Model(networks.build("bilateral", TINY_NET), None, 0, None)
  with pytest.raises(UserError, match="takes no style image .--config.style."):
    bilateral.check_style(True, "--config.style")
  with pytest.raises(UserError, match="needs a style image: set --config.style"):
    api.Model(networks.build("universal", TINY_NET), None, 0, None).check_style(False, "--config.style")


def test_training_with_regions_takes_each_styles_masked_grams_and_one_region_is_the_plain_style_term():
  """`regions`: the objective's style term is Luan's masked one, and each example's targets are its own style's
  Grams per region (style_targets with masks); one all-ones region gives the unmasked Grams."""
  config = universal_photo.get_config("tiny,regions")
  objective, vgg = settings.objective(config), weights.load_vgg()
  assert objective.term("style").needs == ("style", "masks")
  styles = _photo((2, 32, 32, 3))
  halves = np.zeros((2, 32, 32, 2), np.float32)
  halves[:, :16, :, 0] = halves[:, 16:, :, 1] = 1
  halves[1] = halves[1, ::-1]
  per_region = training.style_targets(objective, vgg, styles, jnp.asarray(halves))
  for k in range(2):
    alone = objective.style_grams(vgg, styles[k:k + 1], objective.layer_masks(vgg, halves[k]))
    for layer, gram in per_region.items():
      assert gram.shape == (2, 2, *gram.shape[-2:])
      np.testing.assert_allclose(gram[k], alone[layer][0], atol=1e-4 * float(jnp.abs(gram[k]).max()))
  whole = training.style_targets(objective, vgg, styles, jnp.ones((2, 32, 32, 1)))
  for layer, gram in training.style_targets(objective, vgg, styles).items():
    np.testing.assert_allclose(whole[layer][:, 0], gram, atol=1e-4 * float(jnp.abs(gram).max()))


def test_training_with_regions_is_refused_where_it_cannot_work_in_one_line():
  config, net = universal_photo.get_config("tiny,regions"), networks.build("universal", TINY_NET)
  assert settings.training_regions(config, net) == 6
  assert settings.training_regions(universal_photo.get_config("tiny"), net) == 0
  for change, other_net, message in (
      ({"masks.source": "files"}, net, "finds each example's regions itself: masks.source auto or none"),
      ({}, networks.build("bilateral", TINY_NET), "a bilateral network takes none"),
      ({"loss.temporal_weight": 1.0}, net, "does not train beside the temporal term"),
      ({"masks.regions": 0}, net, "masks.regions must be from 1 to 16")):
    with pytest.raises(UserError, match=message):
      settings.training_regions(configs.override(config, change), other_net)


def test_training_without_a_style_is_one_clear_error():
  config = universal_photo.get_config("tiny")
  config.style = ""
  with pytest.raises(UserError, match="set --config.style"):
    settings.check_train(config, 1)


@pytest.mark.slow
def test_universal_model_trains_resumes_exports_and_stylises_with_any_style(photo_tree, tmp_path):
  """configs/universal_photo.py:tiny,regions (each example's regions found in the step; the plain preset trains
  conftest's model_dir): 2 steps, resumed for a third (bitwise as 3 straight steps); exported; a file and a
  folder stylised with --config.style, the Ray engine's actor with it, and arrays through the API."""
  config = lambda steps: tiny_photo_config(universal_photo, "tiny,regions", total_steps=steps,  # noqa: E731
                                           sample_every_steps=0)
  straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
  launch.run(config(2), resumed)
  model = launch.run(config(3), resumed)
  launch.run(config(3), straight)
  assert_bitwise_equal(final_params(resumed), final_params(straight))
  rows = [json.loads(line) for line in open(tmp_path / "resumed" / "metrics.jsonl")]
  assert model["steps"] == 3 and model["net"]["kind"] == "universal"
  assert all(np.isfinite(rows[-1][k]) and rows[-1][k] > 0 for k in ("content", "style", "grid_smoothness"))
  assert json.load(open(tmp_path / "resumed" / "config.json"))["masks"]["source"] == "auto"

  exported = str(tmp_path / "exported")
  launch.run(configs.override(export_preset.get_config(), {"model": resumed}), exported)
  loaded = api.load_model(exported)
  assert loaded.step == 3 and loaded.net.kind == "universal"
  style = assets.path("rocket.jpg")
  content = images.load_image(photo_tree / "b.png")
  by_api = loaded.stylize(content, images.load_image(style))
  assert by_api.shape == content.shape and np.all(np.isfinite(by_api))

  one = tmp_path / "file"
  launch.run(stylize_cfg(exported, photo_tree / "b.png", one, style=style), str(tmp_path / "work_file"))
  np.testing.assert_allclose(images.load_image(one / "b.png"), by_api, atol=1.0)
  folder = tmp_path / "folder"
  with pytest.raises(UserError, match="1 of 6 images failed"):  # corrupt.jpg
    launch.run(stylize_cfg(exported, photo_tree, folder, style=style), str(tmp_path / "work_folder"))
  np.testing.assert_allclose(images.load_image(folder / "b.png"), by_api, atol=1.0)
  summary = json.load(open(tmp_path / "work_folder" / "stylize.json"))
  assert summary["stylised"] == 5 and summary["tiled"] == 0 and summary["style"] == style
  with pytest.raises(UserError, match="needs a style image: set --config.style"):
    launch.run(stylize_cfg(exported, photo_tree, tmp_path / "none"), str(tmp_path / "work_none"))
  matched, cat, cup = tmp_path / "regions", assets.path("chelsea.jpg"), assets.path("coffee.jpg")
  launch.run(stylize_cfg(exported, cat, matched, style=cup, regions=3), str(tmp_path / "work_regions"))
  by_regions = loaded.stylize(cat, cup, regions=3)  # automatic regions, as the job finds them
  np.testing.assert_allclose(images.load_image(matched / "chelsea.png"), by_regions, atol=1.0)
  assert np.abs(by_regions - loaded.stylize(cat, cup)).max() > 5
  refined = tmp_path / "refined"  # refinement, as the API does it
  launch.run(stylize_cfg(exported, photo_tree / "b.png", refined, style=style, refine_steps=3),
             str(tmp_path / "work_refined"))
  by_refining = loaded.stylize(content, images.load_image(style), refine_steps=3)
  np.testing.assert_allclose(images.load_image(refined / "b.png"), by_refining, atol=1.0)
  assert np.abs(by_refining - by_api).max() > 1
  masks, style_mask, by_masks = _stylize_with_mask_files(loaded, exported, photo_tree, style, tmp_path)
  assert np.abs(by_masks - by_api).max() > 1

  options = stylize.options(stylize_cfg(exported, photo_tree, tmp_path / "ray"))
  actor = stylize._RayStylizer(exported, "", options, {}, str(tmp_path / "cache"),
                               images.load_image(style), None)  # the Ray engine's actor, given the job's style
  target = str(tmp_path / "ray" / "b.png")
  actor({"path": np.array([str(photo_tree / "b.png")]), "target": np.array([target]), "image": [content],
         "error": np.array([""])})
  np.testing.assert_allclose(images.load_image(target), by_api, atol=1.0)
  mask_files = stylize.MaskFiles(str(masks), str(tmp_path / "ray_masked"), images.load_image(style_mask))
  actor = stylize._RayStylizer(exported, "", options, {}, str(tmp_path / "cache"), images.load_image(style),
                               mask_files)  # and the job's mask files
  targets = [str(tmp_path / "ray_masked" / name) for name in ("b.png", "a.png")]
  facts = actor({"path": np.array([str(photo_tree / "b.png"), str(photo_tree / "a.jpg")]),
                 "target": np.array(targets), "image": [content, content], "error": np.array(["", ""])})
  np.testing.assert_allclose(images.load_image(targets[0]), by_masks, atol=1.0)
  assert facts["error"][0] == "" and "no mask file" in facts["error"][1] and facts["pixels"][1] == 0

  _compare_photo_with_a_style_per_photo(exported, photo_tree, tmp_path / "compare")


def _stylize_with_mask_files(model, exported, photo_tree, style, tmp_path):
  """The stylize job with Luan's mask files for b.png and sub/c.jpg (as sub/c.png) and none for the others: those
  two are stylised as the API does with their masks, the others fail alone. Returns (masks folder, style mask,
  the API's b.png with its masks)."""
  masks, style_mask, out = tmp_path / "masks", tmp_path / "style_mask.png", tmp_path / "masked"
  (masks / "sub").mkdir(parents=True)
  images.save_image(masks / "b.png", _halves_mask(40, 48))
  images.save_image(masks / "sub" / "c.png", _halves_mask(36, 30))
  images.save_image(style_mask, _halves_mask(64, 96))
  given = {"style": style, "content_masks": str(masks), "style_mask": str(style_mask)}
  with pytest.raises(UserError, match="4 of 6 images failed"):  # corrupt.jpg; a, huge and rotated have no masks
    launch.run(stylize_cfg(exported, photo_tree, out, **given), str(tmp_path / "work_masked"))
  by_masks = model.stylize(images.load_image(photo_tree / "b.png"), images.load_image(style),
                           content_mask=masks / "b.png", style_mask=style_mask)
  np.testing.assert_allclose(images.load_image(out / "b.png"), by_masks, atol=1.0)
  assert (out / "sub" / "c.png").is_file() and not (out / "a.png").exists()
  failed = json.load(open(tmp_path / "work_masked" / "stylize.json"))["failed"]
  assert sum("no mask file" in reason for reason in failed.values()) == 3
  with pytest.raises(UserError, match="need both --config.content_masks"):
    launch.run(stylize_cfg(exported, photo_tree, out, style=style, content_masks=str(masks)), str(tmp_path / "w"))
  with pytest.raises(UserError, match="one file but there are 6 inputs"):
    launch.run(stylize_cfg(exported, photo_tree, out, **{**given, "content_masks": str(masks / "b.png")}),
               str(tmp_path / "w"))
  return masks, style_mask, by_masks


def _compare_photo_with_a_style_per_photo(model, photo_tree, workdir):
  """experiments/universal_vs_luan.py's job on two photos, each with its own style, masks and published result."""
  masks = workdir / "masks"
  masks.mkdir(parents=True)
  for name, size in (("content", (40, 48)), ("style", (64, 96))):  # Luan's blue and green regions, half each
    images.save_image(masks / f"{name}.png", _halves_mask(*size))
  config = universal_vs_luan.get_config("tiny")
  photos, styles = [str(photo_tree / "a.jpg"), str(photo_tree / "b.png")], [assets.path("rocket.jpg"),
                                                                         assets.path("coffee.jpg")]
  config.update({"photos": ",".join(photos), "styles": ",".join(styles), "published": ",".join(photos[::-1]),
                 "content_masks": ",".join([str(masks / "content.png")] * 2),
                 "style_masks": ",".join([str(masks / "style.png")] * 2)})
  config.models.universal = model
  config.update({"regions": 2, "refine_steps": 2})
  means = launch.run(config, str(workdir))
  # masks: also with them, with automatic regions and refined
  assert sorted(means) == ["mean published", "mean universal", "mean universal masked",
                           "mean universal masked refined", "mean universal regions"]
  table = (workdir / "score.md").read_text()
  assert "| a universal |" in table and "| b published |" in table
  assert np.isnan(means["mean published"]["seconds"]) and 0 < means["mean universal"]["seconds"] < 60
  assert np.isfinite(means["mean universal"]["style"]) and (workdir / "b" / "universal.png").is_file()
  unmasked = api.score(images.load_image(workdir / "b" / "universal.png"), photos[1], styles[1])
  assert json.load(open(workdir / "score.json"))["scores"]["b universal"]["style"] != unmasked["style"]
  with pytest.raises(UserError, match="one file per photo"):
    launch.run(configs.override(config, {"styles": styles[0]}), str(workdir / "bad"))
  with pytest.raises(UserError, match="takes a style: set --config.styles"):
    launch.run(configs.override(config, {"styles": ""}), str(workdir / "bad"))
