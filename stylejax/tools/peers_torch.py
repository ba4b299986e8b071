"""PyTorch peers of the benchmark cases: the same work written plainly in PyTorch, timed beside ours.

Optional (`pip install -e '.[peers]'`); imported only by a bench point with
`bench.impl=torch`. Each builder returns a zero-argument callable doing one
unit of work (an optimisation step, a training step, a stylisation) on the
GPU when there is one, else the CPU. Weights are random: the peers measure
time, not quality (the same convolutions, whatever the numbers in them).

- Gatys step: VGG (the config's arch and pooling) up to the deepest loss layer;
  content MSE, Gram style losses, TV; Adam on the pixels (Gatys et al. 2016).
- Johnson network: Johnson et al. 2016's transformation network as
  stylejax.core.nets.TransformNet (width, residual blocks, upsampling, padding);
  its training step is the perceptual loss through the same VGG plus Adam.
"""

import torch
from torch import nn

from stylejax.core import vgg as vgg_lib

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def wait(_):
  """Waits for the device's queued work (the timing helper's `wait`)."""
  if DEVICE.type == "cuda":
    torch.cuda.synchronize()


class Features(nn.Module):
  """VGG convolutions (random weights) with ReLUs and 2x2 pooling, returning the wanted relu taps."""

  def __init__(self, arch, pooling, wanted):
    super().__init__()
    layers, names, channels = [], [], 3
    for block, count in enumerate(vgg_lib.LAYOUTS[arch]):
      for i in range(count):
        layers += [nn.Conv2d(channels, vgg_lib.WIDTHS[block], 3, padding=1), nn.ReLU()]
        names += [f"conv{block + 1}_{i + 1}", f"relu{block + 1}_{i + 1}"]
        channels = vgg_lib.WIDTHS[block]
      layers.append(nn.AvgPool2d(2) if pooling == "avg" else nn.MaxPool2d(2))
      names.append(f"pool{block + 1}")
    last = max(names.index(name) for name in wanted)
    self.layers, self.names, self.wanted = nn.ModuleList(layers[:last + 1]), names[:last + 1], set(wanted)

  def forward(self, x):
    taps = {}
    for name, layer in zip(self.names, self.layers):
      x = layer(x)
      if name in self.wanted:
        taps[name] = x
    return taps


def gram(f):
  batch, channels, height, width = f.shape
  flat = f.reshape(batch, channels, height * width)
  return flat @ flat.transpose(1, 2) / (channels * height * width)


def _tensor(images):
  """(B, H, W, 3) 0..255 numpy -> (B, 3, H, W) float32 on the device."""
  return torch.as_tensor(images, dtype=torch.float32, device=DEVICE).permute(0, 3, 1, 2).contiguous()


def _perceptual_loss(features, x, content_targets, style_targets, content_layers, tv_weight):
  taps = features(x)
  loss = sum(torch.mean((taps[k] - content_targets[k]) ** 2) for k in content_layers)
  loss = loss + sum(torch.sum((gram(taps[k]) - target) ** 2) for k, target in style_targets.items())
  tv = torch.mean((x[:, :, 1:] - x[:, :, :-1]) ** 2) + torch.mean((x[:, :, :, 1:] - x[:, :, :, :-1]) ** 2)
  return loss + tv_weight * tv


def _features(config):
  layers = list(config.loss.content_layers) + list(config.loss.style_layers)
  return Features(config.vgg.arch, config.vgg.pooling, layers).to(DEVICE).eval().requires_grad_(False)


def gatys_step(config, content, style):
  """One Adam step on the pixels of a (1, H, W, 3) image against a content and a style image."""
  torch.manual_seed(config.seed)
  features = _features(config)
  content, style = _tensor(content), _tensor(style)
  with torch.no_grad():
    content_targets = {k: v for k, v in features(content).items() if k in config.loss.content_layers}
    style_targets = {k: gram(v) for k, v in features(style).items() if k in config.loss.style_layers}
  x = content.clone().requires_grad_(True)
  optimizer = torch.optim.Adam([x], lr=config.learning_rate)

  def step():
    optimizer.zero_grad()
    _perceptual_loss(features, x, content_targets, style_targets, config.loss.content_layers,
                     config.loss.tv_weight).backward()
    optimizer.step()
  return step


class ConvNormAct(nn.Sequential):
  def __init__(self, channels_in, channels_out, kernel, stride=1, padding="zeros", relu=True, norm=True):
    mode = "reflect" if padding == "reflect" else "zeros"
    layers = [nn.Conv2d(channels_in, channels_out, kernel, stride, kernel // 2, padding_mode=mode)]
    layers += [nn.InstanceNorm2d(channels_out, affine=True)] if norm else []
    layers += [nn.ReLU()] if relu else []
    super().__init__(*layers)


class Residual(nn.Module):
  def __init__(self, channels, padding):
    super().__init__()
    self.body = nn.Sequential(ConvNormAct(channels, channels, 3, padding=padding),
                              ConvNormAct(channels, channels, 3, padding=padding, relu=False))

  def forward(self, x):
    return x + self.body(x)


def upsample(channels_in, channels_out, mode, padding):
  if mode == "transpose":
    return nn.Sequential(nn.ConvTranspose2d(channels_in, channels_out, 3, 2, 1, output_padding=1),
                         nn.InstanceNorm2d(channels_out, affine=True), nn.ReLU())
  return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), ConvNormAct(channels_in, channels_out, 3,
                                                                               padding=padding))


class TransformNet(nn.Module):
  """stylejax.core.nets.TransformNet in PyTorch (images with sides divisible by 4)."""

  def __init__(self, net):
    super().__init__()
    w, padding = net.width, net.padding
    self.body = nn.Sequential(
        ConvNormAct(3, w, 9, padding=padding), ConvNormAct(w, 2 * w, 3, 2, padding),
        ConvNormAct(2 * w, 4 * w, 3, 2, padding), *(Residual(4 * w, padding) for _ in range(net.residual_blocks)),
        upsample(4 * w, 2 * w, net.upsample, padding), upsample(2 * w, w, net.upsample, padding),
        ConvNormAct(w, 3, 9, padding=padding, relu=False, norm=False))

  def forward(self, images):
    return (torch.tanh(self.body(images / 127.5 - 1.0)) + 1.0) * 127.5


def johnson_parts(config, batch, style):
  """{part: zero-argument callable} of the Johnson training step on a (B, S, S, 3) batch (perceptual loss,
  random VGG, Adam): "train step", and its sub-parts alone (experiments/profile_train_step.py): "network
  forward", "network forward+grad", "VGG loss forward+grad" (input gradient at the network's output),
  "content targets", "Adam update"."""
  torch.manual_seed(config.seed)
  features, net = _features(config), TransformNet(config.net).to(DEVICE)
  batch, style = _tensor(batch), _tensor(style)
  with torch.no_grad():
    style_targets = {k: gram(v) for k, v in features(style).items() if k in config.loss.style_layers}
    content_targets = features(batch)
    stylized = net(batch)
  optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
  loss = lambda x, content: _perceptual_loss(features, x, content, style_targets,  # noqa: E731
                                             config.loss.content_layers, config.loss.tv_weight)

  def step():
    optimizer.zero_grad()
    with torch.no_grad():
      content = features(batch)
    loss(net(batch), content).backward()
    optimizer.step()

  def network_grad():
    net.zero_grad()
    torch.sum(net(batch) * stylized).backward()

  def loss_grad():
    x = stylized.clone().requires_grad_(True)
    loss(x, content_targets).backward()

  def targets():
    with torch.no_grad():
      return features(batch)

  def network():
    with torch.no_grad():
      return net(batch)
  return {"train step": step, "network forward": network, "network forward+grad": network_grad,
          "VGG loss forward+grad": loss_grad, "content targets": targets, "Adam update": optimizer.step}


def johnson_train_step(config, batch, style):
  """One Adam step of the transformation network on a (B, S, S, 3) batch (perceptual loss, random VGG)."""
  return johnson_parts(config, batch, style)["train step"]


def johnson_stylize(config, image):
  """One stylisation of a (1, H, W, 3) image by the transformation network."""
  torch.manual_seed(config.seed)
  net, image = TransformNet(config.net).to(DEVICE).eval(), _tensor(image)

  def stylize():
    with torch.no_grad():
      return net(image)
  return stylize
