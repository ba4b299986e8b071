"""The model menu: model directories found in folders, grouped by kind, with their style images."""

import os

import pytest

from stylejax.web import catalog


@pytest.mark.slow  # trains photo_model_dir (20-30 s) when it runs first
def test_finds_models_groups_them_and_lets_models_dir_override(tmp_path, model_dir, photo_model_dir):
  user = tmp_path / "models"
  user.mkdir()
  os.symlink(photo_model_dir, user / "a_photo_style")
  os.symlink(model_dir, user / "grace_hopper")  # replaces the bundled model of that name
  (user / "no_weights").mkdir()
  (user / "no_weights" / "config.json").write_text('{"net": {"kind": "johnson"}}')
  (user / "damaged").mkdir()
  (user / "damaged" / "config.json").write_text("{not json")
  (user / "damaged" / "params.npz").write_bytes(b"")
  for name, text in (("nested", "[" * 100_000 + "]" * 100_000), ("kind_list", '{"net": {"kind": ["johnson"]}}'),
                     ("universal", '{"net": {"kind": "universal"}}')):
    (user / name).mkdir()
    # RecursionError, an unhashable kind and a network that needs a style photo (no form sends one yet): skipped
    (user / name / "config.json").write_text(text)
    (user / name / "params.npz").write_bytes(b"")
  os.symlink(model_dir, user / ".hidden")
  (user / "stray.txt").write_text("not a model")
  found = catalog.models([catalog.bundled_dir(), str(user), str(tmp_path / "missing")])
  assert list(found) == ["grace_hopper", "starry_night", "a_photo_style"]  # painting styles first, then photo
  assert found["grace_hopper"].path == str(user / "grace_hopper") and found["grace_hopper"].kind == "johnson"
  assert found["a_photo_style"].group == "Photo styles" and found["a_photo_style"].title == "A photo style"
  assert found["starry_night"].style.endswith("style.jpg") and os.path.isfile(found["starry_night"].style)
