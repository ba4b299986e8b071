"""stylejax command line: python run.py --config configs/X.py[:arg] --workdir DIR [--config.key=value ...]"""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

from stylejax import jobs
from stylejax.errors import UserError

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Config file (configs/*.py[:arg]).", lock_config=True)
flags.DEFINE_string("workdir", None, "Folder for the run's outputs.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  logging.set_verbosity(logging.WARNING)
  try:
    jobs.run(FLAGS.config, FLAGS.workdir)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  except KeyboardInterrupt:
    print("error: interrupted", file=sys.stderr)
    sys.exit(130)


if __name__ == "__main__":
  app.run(main)
