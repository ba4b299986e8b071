"""A straightforward PyTorch Gatys loop, for comparing per-step time with stylejax.

Same work as `configs/bench_gatys.py`: VGG16 up to relu5_1 (average pooling),
content relu4_2, style relu1_1..relu5_1 Grams, TV, Adam on the pixels.
Random weights (timing only). Needs torch (`pip install torch==2.13.0`):

  python experiments/torch_gatys_reference.py --size 256 --steps 10
"""

import argparse
import json
import time

import torch
from torch import nn

LAYOUT, WIDTHS = (2, 2, 3, 3, 3), (64, 128, 256, 512, 512)


class Vgg16Features(nn.Module):
  def __init__(self):
    super().__init__()
    layers, self.names, channels_in = [], [], 3
    for b, n in enumerate(LAYOUT):
      for i in range(n):
        layers += [nn.Conv2d(channels_in, WIDTHS[b], 3, padding=1), nn.ReLU()]
        self.names += [f"conv{b + 1}_{i + 1}", f"relu{b + 1}_{i + 1}"]
        channels_in = WIDTHS[b]
      layers.append(nn.AvgPool2d(2))
      self.names.append(f"pool{b + 1}")
    self.layers = nn.ModuleList(layers)

  def forward(self, x, wanted):
    out = {}
    for name, layer in zip(self.names, self.layers):
      x = layer(x)
      if name in wanted:
        out[name] = x
      if len(out) == len(wanted):
        return out


def gram(f):
  b, c, h, w = f.shape
  flat = f.reshape(b, c, h * w)
  return flat @ flat.transpose(1, 2) / (h * w)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--size", type=int, default=256)
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--threads", type=int, default=0)
  args = parser.parse_args()
  if args.threads:
    torch.set_num_threads(args.threads)
  torch.manual_seed(0)
  net = Vgg16Features().eval().requires_grad_(False)
  style_layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
  content, style = torch.rand(1, 3, args.size, args.size), torch.rand(1, 3, args.size, args.size)
  with torch.no_grad():
    content_target = net(content, {"relu4_2"})["relu4_2"]
    style_targets = {k: gram(v) for k, v in net(style, set(style_layers)).items()}
  x = content.clone().requires_grad_(True)
  opt = torch.optim.Adam([x], lr=1.0)

  def step():
    opt.zero_grad()
    feats = net(x, set(style_layers) | {"relu4_2"})
    loss = torch.mean((feats["relu4_2"] - content_target) ** 2)
    loss = loss + sum(torch.sum((gram(feats[k]) - style_targets[k]) ** 2) for k in style_layers)
    loss = loss + torch.mean((x[:, :, 1:] - x[:, :, :-1]) ** 2) + torch.mean((x[:, :, :, 1:] - x[:, :, :, :-1]) ** 2)
    loss.backward()
    opt.step()

  step()  # warm-up
  start = time.perf_counter()
  for _ in range(args.steps):
    step()
  ms = (time.perf_counter() - start) / args.steps * 1e3
  print(json.dumps({"framework": f"torch {torch.__version__}", "size": args.size, "ms_per_step": ms,
                    "threads": torch.get_num_threads()}))


if __name__ == "__main__":
  main()
