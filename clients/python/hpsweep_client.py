"""Report metrics to hpsweep: one JSON line per call to the fd in HPSWEEP_METRICS_FD.

    import hpsweep_client
    hpsweep_client.log({"val_loss": 1.93, "train_loss": 2.01}, step=200)

Standard library only. Without HPSWEEP_METRICS_FD (outside hpsweep) log() does nothing.
Numbers (int, float, and objects with __float__ such as numpy or 0-d torch values) are
sent; booleans, strings and other values are left out. NaN and infinities are sent as
Python's json writes them (NaN, Infinity, -Infinity). step=None leaves the step to
hpsweep: the previous line's step + 1, starting at 0; a "step" item of metrics is the
step when step=None (and is never sent as a metric). See docs/programs.md.
"""
import json
import os
import sys

__all__ = ["log", "enabled", "params", "number"]

_fd = None          # None: not looked up yet; -1: off
_warned = False


def _metrics_fd():
    global _fd
    if _fd is None:
        try:
            _fd = int(os.environ.get("HPSWEEP_METRICS_FD", ""))
        except ValueError:
            _fd = -1
        if _fd < 0:
            _fd = -1
    return _fd


def enabled():
    """True when running under hpsweep (HPSWEEP_METRICS_FD is set)."""
    return _metrics_fd() >= 0


def number(v):
    """v as an int or float, or None when it is not a number (booleans are not)."""
    if isinstance(v, bool) or isinstance(v, (str, bytes)):
        return None
    if isinstance(v, int):
        return v if abs(v) < 2 ** 63 else float(v)
    if isinstance(v, float):
        return v
    if hasattr(v, "__float__"):
        try:
            return float(v)
        except (TypeError, ValueError):
            return None
    return None


def log(metrics, step=None):
    """Send the numeric items of metrics at step (None: the next step). Returns True if sent."""
    global _fd, _warned
    fd = _metrics_fd()
    if fd < 0:
        return False
    line = {}
    if step is None and number(metrics.get("step")) is not None:
        step = metrics["step"]
    if step is not None:
        line["step"] = int(step)
    for name, value in metrics.items():
        v = number(value)
        if v is not None and name != "step":
            line[str(name)] = v
    data = (json.dumps(line, allow_nan=True) + "\n").encode("utf-8")
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError as e:
        _fd = -1
        if not _warned:
            _warned = True
            print("hpsweep_client: cannot write metrics (%s); metrics are off" % e, file=sys.stderr)
        return False
    return True


def params():
    """The trial's parameters: HPSWEEP_PARAMS_JSON (JSON text) or the JSON file named by
    HPSWEEP_PARAMS_FILE; {} when neither is set."""
    text = os.environ.get("HPSWEEP_PARAMS_JSON")
    if text is None and os.environ.get("HPSWEEP_PARAMS_FILE"):
        with open(os.environ["HPSWEEP_PARAMS_FILE"], encoding="utf-8") as f:
            text = f.read()
    if not text:
        return {}
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("hpsweep parameters are not a JSON object")
    return value


