"""Regenerates the torch fixtures in this folder (needs torch; run by hand, not by the tests).

  pip install torch==2.13.0 numpy && python tests/data/make_torch_fixtures.py

Writes a tiny VGG19 with torchvision's exact `features.{i}` layout (small
channel widths) as a state dict in both torch.save formats (zip and legacy, the
format of torchvision's vgg19-dcbb9e9d.pth), plus reference activations
computed by torch for one input image.
"""

import os

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
LAYOUT = (2, 2, 4, 4, 4)  # VGG19
WIDTHS = (4, 5, 6, 6, 6)
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def features():
  layers, names, channels_in = [], [], 3
  for b, n in enumerate(LAYOUT):
    for i in range(n):
      layers += [nn.Conv2d(channels_in, WIDTHS[b], 3, padding=1), nn.ReLU()]
      names += [f"conv{b + 1}_{i + 1}", f"relu{b + 1}_{i + 1}"]
      channels_in = WIDTHS[b]
    layers.append(nn.MaxPool2d(2, 2))
    names.append(f"pool{b + 1}")
  return nn.Sequential(*layers), names


def main():
  torch.manual_seed(0)
  net, names = features()
  model = nn.Module()
  model.features = net
  model.classifier = nn.Sequential(nn.Linear(6, 3))  # present in real files, ignored by readers
  state = model.state_dict()
  torch.save(state, os.path.join(HERE, "tiny_vgg19_zip.pth"))
  torch.save(state, os.path.join(HERE, "tiny_vgg19_legacy.pth"), _use_new_zipfile_serialization=False)

  image = np.random.default_rng(0).uniform(0, 255, (37, 45, 3)).astype(np.float32)
  x = torch.from_numpy(((image / 255 - MEAN) / STD).transpose(2, 0, 1)[None])
  taps = {}
  with torch.no_grad():
    for name, layer in zip(names, net):
      x = layer(x)
      taps[name] = x[0].numpy().transpose(1, 2, 0)
  np.savez(os.path.join(HERE, "tiny_vgg19_reference.npz"), image=image,
           **{k: taps[k] for k in ("conv1_1", "relu2_2", "pool3", "conv4_3", "relu5_4")})


if __name__ == "__main__":
  main()
