"""The model menu: model directories found in folders, grouped by kind, with their style images."""

import os

import pytest

from stylejax.web import catalog


@pytest.mark.slow  # trains photo_model_dir (20-30 s) when it runs first
def test_finds_models_groups_them_and_lets_models_dir_override(tmp_path, model_dir, photo_model_dir,
                                                               universal_model_dir):
  user = tmp_path / "models"
  user.mkdir()
  os.symlink(photo_model_dir, user / "a_photo_style")
  os.symlink(model_dir, user / "grace_hopper")  # replaces the bundled model of that name
  os.symlink(universal_model_dir, user / "any_photo")
  (user / "no_weights").mkdir()
  (user / "no_weights" / "config.json").write_text('{"net": {"kind": "johnson"}}')
  (user / "damaged").mkdir()
  (user / "damaged" / "config.json").write_text("{not json")
  (user / "damaged" / "params.npz").write_bytes(b"")
  for name, text in (("nested", "[" * 100_000 + "]" * 100_000), ("kind_list", '{"net": {"kind": ["johnson"]}}'),
                     ("no_such_kind", '{"net": {"kind": "picasso"}}')):
    (user / name).mkdir()
    # RecursionError, an unhashable kind and an unknown kind: skipped
    (user / name / "config.json").write_text(text)
    (user / name / "params.npz").write_bytes(b"")
  os.symlink(model_dir, user / ".hidden")
  (user / "stray.txt").write_text("not a model")
  found = catalog.models([catalog.bundled_dir(), str(user), str(tmp_path / "missing")])
  # painting styles first, then photo styles, then the networks that take the user's style photo
  assert list(found) == ["grace_hopper", "starry_night", "the_scream", "tissue_stain", "woman_with_a_hat",
                         "a_photo_style", "any_photo", "universal"]
  assert found["any_photo"].group == "Your own style photo" and found["any_photo"].takes_style
  assert found["any_photo"].style == ""  # its training's first style photo is not its style
  assert found["grace_hopper"].path == str(user / "grace_hopper") and found["grace_hopper"].kind == "johnson"
  assert found["a_photo_style"].group == "Photo styles" and found["a_photo_style"].title == "A photo style"
  assert found["starry_night"].style.endswith("style.jpg") and os.path.isfile(found["starry_night"].style)
