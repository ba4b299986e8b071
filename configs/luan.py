"""Slow photorealistic transfer (Luan et al. 2017, Deep Photo Style Transfer).

  python run.py --config configs/luan.py --workdir runs/luan \
      --config.content=in.png --config.style=tar.png \
      --config.masks.source=files --config.masks.content=in_seg.png --config.masks.style=tar_seg.png

Masked (per-region) Gram style loss plus the matting-Laplacian photorealism
term of the content image. `--config.masks.source=auto` finds matching regions itself
(k-means on VGG features); `none` uses the plain style loss. No overrides: the
bundled NASA portrait of Eileen Collins takes the look of the bundled US Navy
portrait of Grace Hopper (both public domain, both a person before a flag),
auto masks.
`configs/luan.py:tiny` is a 64 px smoke run.

The output is 384 px (long side), the size the weights and schedule were chosen
at. A larger output optimises at 384 and carries the result up as local affine
colour transforms of the full-size photo (0 steps at the last scale):
  --config.image_size=768 --config.num_scales=3 --config.scale_steps=300,30,0
"""

from configs import common, gatys


def get_config(arg=None):
  config = gatys.get_config()
  config.content = "bundled:astronaut.jpg"
  config.style = ("bundled:grace_hopper.jpg",)
  config.seed = 612  # Luan's
  config.image_size = 384  # the size the weights were chosen at (README); larger outputs: see the docstring
  config.init = "content"

  # Luan's layers (pre-activation convolutions) and published weights, in the normalisation of the
  # neural-style code they belong to ("luan": features as if the network saw 0..255 inputs), so they
  # keep their balance on the embedded VGG16 as on Luan's Caffe VGG19 (README, photorealistic section).
  config.loss.normalization = "luan"
  config.loss.content_layers = ("conv4_2",)
  config.loss.style_layers = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
  config.loss.style_layer_weights = (1.0, 1.0, 1.0, 1.0, 1.0)  # neural-style: each layer at full strength
  config.loss.content_weight = 5.0
  config.loss.style_weight = 400.0  # Luan: 100; 400 and λ 3e4 chosen by the trade-off sweep (README)
  config.loss.tv_weight = 1e-3
  config.loss.affine_weight = 3e4  # Luan: 1e4

  config.masks.source = "auto"
  config.masks.regions = 3
  # Coarse to fine (README, photorealistic section: measured against Luan's one scale of 1000 steps, his
  # two stages and his smooth-affine filter): the colours are found at half size, carried to full size as
  # local affine colour transforms of the content (photorealistic by construction), and 30 full-size
  # steps add the style's detail (more steps move the result away from the style photo's statistics).
  config.num_scales = 2
  config.upsample = "guided"
  config.scale_steps = (300, 30)
  config.two_stage = False
  config.optimizer = "lbfgs"  # Luan: Torch's L-BFGS, fixed step 1, history 100
  config.learning_rate = 1.0
  config.total_steps = 1000  # per scale when scale_steps is emptied (Luan: 1000 at one scale)
  config.stop_tolerance = 1e-5  # a phase ends once 10 steps change the loss by < 0.001 %

  if "tiny" in common.arguments(arg, ("tiny",)):
    config.image_size = 64
    config.total_steps = 10
    config.num_scales, config.scale_steps = 1, ()
    config.log_every_steps = 5
    config.optimizer = "adam"
    config.learning_rate = 1.0
  return config
