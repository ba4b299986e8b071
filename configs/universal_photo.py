"""Universal photorealistic transfer: one bilateral-grid network for any style photo, given at inference.

  python run.py --config configs/universal_photo.py:cpu --workdir runs/universal
  python run.py --config configs/stylize.py --workdir runs/stylize_universal \
      --config.checkpoint=runs/universal --config.style=style.jpg --config.input=photos/ --config.output=styled/

The network (stylejax.core.networks.universal; Gharbi et al. 2017, Xia et al.
2020, AdaIN) sees the content and the style photo at low_res² and predicts a
grid of local affine colour transforms of the content, sliced by a
full-resolution guide: photorealistic by construction, any size in one pass.
Training draws each example's style from `style` (comma-separated; the train
job computes each example's Gram matrices in the step). Loss, data, sizes and
arguments as configs/fast_photo.py (Luan's content and style terms, grid
smoothness): no overrides trains on the bundled and scikit-image samples with
four bundled photos as styles (256 px, batch 8: a GPU preset); for real
training point `data` at a photo folder (e.g. folder:../shared/data/photo) and
`style` at its style photos. Arguments (comma-separated): `cpu` (128 px crops,
styles and low-resolution view, batch 4; about 40 minutes on a 2-core CPU),
`tiny` (64 px, 12 steps: tests), `matting` (adds Luan's matting energy of each
batch, matrix-free; with `cpu`, 3000 steps: `cpu,photos,matting` trains the
bundled model, 50 minutes on 2 cores with other work beside it), `photos`
(the development photos: Luan's pairs outside `held_out_pairs()` and the
shared content photos, each both a content and a style, with random colour
grades; the held-out pairs are for the evaluation,
experiments/universal_vs_luan.py), `regions` (each example's content and style
split into 6 shared regions by k-means of their VGG features, as the website's
one pass with regions finds them: the network transfers colours per region and
the style term is Luan's masked one; stylejax.core.masks.batch_regions; 1200
steps of it from the bundled model did not lower the held-out style distance:
docs/fast_photo.md).
"""

from configs import common, fast_photo, photos as development

STYLES = "bundled:grace_hopper.jpg,bundled:rocket.jpg,bundled:chelsea.jpg,bundled:coffee.jpg"  # the first: samples


def get_config(arg=None):
  items = common.arguments(arg, ("cpu", "tiny", "matting", "photos", "regions"))
  config = fast_photo.get_config(",".join(item for item in items if item not in ("photos", "regions")))
  config.net.kind = "universal"  # the bilateral network's settings, plus a style input
  config.style = STYLES
  config.style_size = config.image_size  # each style's centre square, at the scale of the content crops
  config.masks = common.masks()  # source auto (`regions`): each example's regions, found in the step
  if "regions" in items:
    config.masks.source = "auto"
    config.masks.regions = 6  # the website's online.regions
  if "cpu" in items and "tiny" not in items:
    config.total_steps = 3000 if "matting" in items else 4000  # with matting: the bundled model (docs/fast_photo.md)
  if "photos" in items:
    config.style = development.listed()  # read once: it lists folders and reads each photo's header
    config.data = "files:" + config.style
    config.augment.grade_probability = 0.5
    # No reference pairs: their known answer G(C_k) keeps photo k's own colours, while the network's global
    # colour transfer and the style term move them to the style photo's (the term measured 0.10-0.16 with
    # the transfer against 0.005-0.014 without it, as large as the style term at weight 3e7).
    config.augment.pair_probability = 0.0
  return config
