"""stylejax command line: python run.py --config configs/X.py[:arg] --workdir DIR [--config.key=value ...]

Errors the user can fix (bad files, unknown config keys, bad values) are printed
as one line on stderr with a non-zero exit; the job itself lives in stylejax.jobs.
Ctrl-C and SIGTERM stop a job alike (stylejax.launch.stopping_on_signals): it
keeps its latest result and summary, and the exit status is 130 or 143.
"""

import signal
import sys
import warnings

from absl import app, flags, logging
from ml_collections import config_flags
from ml_collections.config_flags import tuple_parser

from stylejax import launch
from stylejax.errors import UserError, describe_os_error

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Config file (configs/*.py[:arg]).", lock_config=True)
flags.DEFINE_string("workdir", None, "Folder for the run's outputs.")
flags.mark_flags_as_required(["config", "workdir"])


def fail(message, code=1):
  print("error: " + " ".join(str(message).split()), file=sys.stderr)
  sys.exit(code)


def describe(error):
  """One line for a flag or config error (config_flags embeds whole tracebacks in messages)."""
  if isinstance(error, (KeyError, AttributeError)):
    message = error
    while isinstance(message, BaseException) and message.args:  # ml_collections nests the message
      message = message.args[0]
    key, *hint = str(message).splitlines()
    return f"unknown config key {key.strip(chr(34))}: " + (" ".join(hint) or "see the config file for the keys")
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  return lines[-1] if "Traceback" in str(error) else " ".join(lines)


def keep_comma_lists_as_strings():
  """`--config.style=/a.jpg,/b.jpg`: ml_collections reads a tuple field's text as Python, which fails on
  paths that start with '/' or '.'; such a list then stays one string, which settings.as_list splits."""
  parse = tuple_parser.TupleParser.parse

  def parse_or_keep(self, argument):
    try:
      return parse(self, argument)
    except ValueError:
      if not isinstance(argument, str):
        raise
      return (argument,)

  tuple_parser.TupleParser.parse = parse_or_keep


def parse_flags(argv):
  """Parses flags and loads the config now, so every mistake in them is one line."""
  try:
    rest = FLAGS(argv)
    getattr(FLAGS.config, "job", None)  # config_flags defers file errors until first access
  except Exception as e:  # flag syntax, unknown config keys, config file errors
    fail(describe(e), code=2)
  if len(rest) > 1:
    fail(f"unexpected arguments: {' '.join(rest[1:])}", code=2)
  return rest


def stopped(signum):
  """Ends a run that SIGINT (Ctrl-C) or SIGTERM stopped: one line, exit status 128 + the signal (130, 143)."""
  fail("interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}", code=128 + signum)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  warnings.formatwarning = lambda message, *_: f"warning: {message}\n"  # one readable line each
  with launch.stopping_on_signals():
    try:
      launch.start_process(FLAGS.config)
      launch.run(FLAGS.config, FLAGS.workdir)
    except UserError as e:
      fail(e)
    except OSError as e:  # the disk or a path: full, read-only, too long, a file where a folder should be
      fail(describe_os_error(e))
    except KeyboardInterrupt:  # the job has kept what it had
      stopped(launch.stop_signal() or signal.SIGINT)
    if launch.stop_signal():  # asked to stop as the job ended (the website's server ends so)
      stopped(launch.stop_signal())


if __name__ == "__main__":
  keep_comma_lists_as_strings()
  app.run(main, flags_parser=parse_flags)
