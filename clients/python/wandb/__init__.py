"""hpsweep's wandb shim: a pure-Python, offline stand-in for the `wandb` module.

hpsweep puts this package first on PYTHONPATH for `.py` programs, so an unmodified W&B
training script runs in a sweep with no W&B installed and no account. What it does:

- wandb.init(config=...) returns a Run. The trial's parameters (HPSWEEP_PARAMS_JSON, or
  the JSON file in HPSWEEP_PARAMS_FILE) are merged OVER config=, and locked: as in a W&B
  sweep, a later config update of a swept key is ignored with a warning.
- wandb.config / run.config: attribute and item access, update, keys, items, values, get,
  setdefaults, as_dict.
- wandb.log(data, step=None, commit=None) with W&B's step rules: each committed call is
  one step (0, 1, ...); commit=False accumulates into the current step; an explicit step
  smaller than the current one is ignored with a warning; a larger one commits what is
  pending and moves to it; with an explicit step, commit defaults to False. Numeric
  values (nested dicts flattened with ".") go to hpsweep through hpsweep_client.
- run.summary (dict-like, attribute access too): the last logged values (or min/max as
  set by define_metric); explicit writes are reported at finish, at the next step.
- wandb.finish, wandb.define_metric (recorded), wandb.run, wandb.summary, wandb.sweep,
  wandb.agent (calls function once: the trial is this process).
- Anything else (watch, save, Artifact, Table, Image, Histogram, alert, login, plot, ...)
  is a harmless no-op, with a one-time notice on stderr.
"""
import atexit
import fnmatch
import json
import os
import sys
import uuid

try:
    import hpsweep_client as _client
except ImportError:  # the shim directory alone on the path: the client is its sibling
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import hpsweep_client as _client

__version__ = "0.0.0+hpsweep"
__all__ = ["init", "log", "finish", "define_metric", "config", "run", "summary", "Error"]

_noticed = set()


def _notice(key, text):
    if key not in _noticed:
        _noticed.add(key)
        print("hpsweep wandb shim: " + text, file=sys.stderr)


class Error(Exception):
    """What the shim raises where W&B raises (log before init)."""


class _Items:
    """Dict-like reading with attribute access, shared by Config and Summary."""

    _what = "items"

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._items[name]
        except KeyError:
            raise AttributeError("%s has no key '%s'" % (self._what, name)) from None

    def __setattr__(self, name, value):
        self[name] = value

    def __getitem__(self, key):
        return self._items[key]

    def __contains__(self, key):
        return key in self._items

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self._items)

    def keys(self):
        return self._items.keys()

    def items(self):
        return self._items.items()

    def values(self):
        return self._items.values()

    def get(self, key, default=None):
        return self._items.get(key, default)


class Config(_Items):
    """The run's configuration: attribute and item access; swept keys are locked."""

    _what = "config"

    def __init__(self):
        object.__setattr__(self, "_items", {})
        object.__setattr__(self, "_locked", set())

    def _set(self, key, value, allow_val_change=None):
        key = str(key)
        if key in self._locked and self._items.get(key) != value:
            _notice("lock:" + key, "config item '%s' is set by the sweep (ignored update)" % key)
            return
        self._items[key] = value

    def _lock(self, key, value):
        self._items[key] = value
        self._locked.add(key)

    def __setitem__(self, key, value):
        self._set(key, value)

    def __delitem__(self, key):
        del self._items[key]

    def as_dict(self):
        return dict(self._items)

    def update(self, d=None, allow_val_change=None, **kw):
        for k, v in _as_mapping(d).items():
            self._set(k, v)
        for k, v in kw.items():
            self._set(k, v)

    def setdefaults(self, d):
        for k, v in _as_mapping(d).items():
            if k not in self._items:
                self._items[str(k)] = v


def _as_mapping(d):
    """A dict from a dict, an argparse.Namespace (or any object's __dict__), a JSON or
    YAML file path (YAML only where PyYAML is installed), or None."""
    if d is None:
        return {}
    if isinstance(d, dict):
        return d
    if isinstance(d, Config):
        return d.as_dict()
    if isinstance(d, str):
        with open(d, encoding="utf-8") as f:
            text = f.read()
        if d.endswith(".json"):
            return json.loads(text)
        try:
            import yaml
        except ImportError:
            _notice("yaml", "config file %s needs PyYAML; ignored" % d)
            return {}
        value = yaml.safe_load(text) or {}
        # W&B config-defaults.yaml style: {key: {value: v}}
        return {k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in value.items()}
    if hasattr(d, "__dict__"):
        return {k: v for k, v in vars(d).items() if not k.startswith("_")}
    return dict(d)


def _flatten(data, prefix=""):
    out = {}
    for k, v in data.items():
        name = prefix + str(k)
        if isinstance(v, dict):
            out.update(_flatten(v, name + "."))
        else:
            out[name] = v
    return out


class Summary(_Items):
    """run.summary: dict-like with attribute access. Logging keeps the last value (or
    the min/max of define_metric(summary=...)); writes by the script are reported at
    finish."""

    _what = "summary"

    def __init__(self):
        object.__setattr__(self, "_items", {})
        object.__setattr__(self, "_written", set())

    def _logged(self, key, value, how):
        old = self._items.get(key)
        if how in ("min", "max") and _client.number(old) is not None and _client.number(value) is not None:
            value = min(old, value) if how == "min" else max(old, value)
        elif how == "first" and key in self._items:
            return
        self._items[key] = value

    def __setitem__(self, key, value):
        self._items[str(key)] = value
        self._written.add(str(key))

    def __delitem__(self, key):
        del self._items[key]
        self._written.discard(key)

    def update(self, d=None, **kw):
        for k, v in dict(d or {}, **kw).items():
            self[k] = v


class _Metric:
    def __init__(self, name, **kw):
        self.name = name
        for k, v in kw.items():
            setattr(self, k, v)


class Run:
    """What wandb.init returns."""

    def __init__(self, config, kw):
        self.config = config
        self.summary = Summary()
        self.id = kw.get("id") or os.environ.get("HPSWEEP_TRIAL_ID") or uuid.uuid4().hex[:8]
        self.name = kw.get("name") or self.id
        self.project = kw.get("project") or "hpsweep"
        self.entity = kw.get("entity")
        self.group = kw.get("group")
        self.job_type = kw.get("job_type")
        self.notes = kw.get("notes")
        self.tags = tuple(kw.get("tags") or ())
        self.dir = os.environ.get("HPSWEEP_RUN_DIR") or kw.get("dir") or os.getcwd()
        self.sweep_id = os.environ.get("HPSWEEP_SWEEP")
        self.url = None
        self.offline = True
        self.disabled = False
        self.resumed = int(os.environ.get("HPSWEEP_ATTEMPT", "1") or 1) > 1
        self._step = 0
        self._pending = {}
        self._metrics = {}
        self._finished = False

    @property
    def step(self):
        return self._step

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.finish(exit_code=1 if exc_type else 0)
        return False

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        _notice("run." + name, "run.%s is a no-op" % name)
        return _noop_class("run." + name)

    def define_metric(self, name, step_metric=None, step_sync=None, hidden=None,
                      summary=None, goal=None, overwrite=None, **kw):
        m = _Metric(name, step_metric=step_metric, step_sync=step_sync, hidden=hidden,
                    summary=summary, goal=goal, **kw)
        self._metrics[name] = m
        return m

    def _summary_how(self, key):
        m = self._metrics.get(key)
        if m is None:
            for pattern, cand in self._metrics.items():
                if "*" in pattern and fnmatch.fnmatchcase(key, pattern):
                    m = cand
                    break
        how = (m.summary or "last") if m is not None else "last"
        return how.split(",")[0].strip()

    def _commit(self):
        if self._pending:
            _client.log(self._pending, step=self._step)
            for k, v in self._pending.items():
                self.summary._logged(k, v, self._summary_how(k))
        self._pending = {}
        self._step += 1

    def log(self, data, step=None, commit=None, sync=None):
        if self._finished:
            _notice("log-after-finish", "log after finish ignored")
            return
        if not isinstance(data, dict):
            raise ValueError("wandb.log takes a dict")
        if step is not None:
            step = int(step)
            if step < self._step:
                print("hpsweep wandb shim: tried to log to step %d that is less than the current "
                      "step %d; steps must increase, so this data is ignored." % (step, self._step),
                      file=sys.stderr)
                return
            if step > self._step:
                if self._pending:
                    self._commit()
                self._step = step
        flat = _flatten(data)
        if "step" in flat:
            _notice("step-key", "a metric named 'step' is not reported (hpsweep reserves it)")
        for k, v in flat.items():
            if _client.number(v) is None and not isinstance(v, str):
                _notice("nonnumeric", "non-numeric values (media, tables, ...) are not reported")
        self._pending.update(flat)
        if commit is None:
            commit = step is None
        if commit:
            self._commit()

    def finish(self, exit_code=None, quiet=None):
        global run
        if self._finished:
            return
        if self._pending:
            self._commit()
        written = {k: self.summary._items[k] for k in self.summary._written if k in self.summary._items}
        if written:
            _client.log(written, step=self._step)
        self._finished = True
        if run is self:
            run = None

    def watch(self, *args, **kw):
        _notice("watch", "watch is a no-op")

    def save(self, *args, **kw):
        _notice("save", "save is a no-op")
        return True


run = None
config = Config()
summary = None


def init(*args, config=None, config_exclude_keys=None, config_include_keys=None, **kw):
    """Start the run (or return the running one, as W&B does in a script)."""
    global run, summary
    if run is not None and not run._finished:
        return run
    cfg = globals()["config"] = Config()  # a new run, a new config (as after W&B's finish)
    given = dict(_as_mapping(config))
    if config_include_keys:
        given = {k: v for k, v in given.items() if k in config_include_keys}
    for k in config_exclude_keys or ():
        given.pop(k, None)
    cfg.update(given)
    for k, v in _client.params().items():
        cfg._lock(str(k), v)
    run = Run(cfg, kw)
    summary = run.summary
    atexit.register(run.finish)
    return run


def _need_run(what):
    if run is None:
        raise Error("You must call wandb.init() before wandb.%s()" % what)
    return run


def log(data, step=None, commit=None, sync=None):
    _need_run("log").log(data, step=step, commit=commit)


def define_metric(name, *args, **kw):
    return _need_run("define_metric").define_metric(name, *args, **kw)


def finish(exit_code=None, quiet=None):
    if run is not None:
        run.finish(exit_code=exit_code, quiet=quiet)


def sweep(sweep, entity=None, project=None, prior_runs=None):
    _notice("sweep", "wandb.sweep: hpsweep runs the sweep; returning a placeholder id")
    return os.environ.get("HPSWEEP_SWEEP", "hpsweep")


def agent(sweep_id, function=None, entity=None, project=None, count=None):
    """Under hpsweep this process is one trial: function runs once."""
    _notice("agent", "wandb.agent: running the function once (hpsweep runs the sweep)")
    if function is not None:
        function()


class _NoOpMeta(type):
    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _noop_class(cls.__name__ + "." + name)


class _NoOp(metaclass=_NoOpMeta):
    """Accepts any call, attribute, `with` and iteration; does nothing."""

    def __init__(self, *args, **kw):
        pass

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _noop_class(type(self).__name__ + "." + name)

    def __call__(self, *args, **kw):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __iter__(self):
        return iter(())


_noop_classes = {}


def _noop_class(name):
    if name not in _noop_classes:
        _noop_classes[name] = _NoOpMeta(name, (_NoOp,), {})
    return _noop_classes[name]


def __getattr__(name):
    """wandb.watch, wandb.Table, wandb.Artifact, ...: no-ops, noticed once."""
    if name.startswith("__"):
        raise AttributeError(name)
    _notice(name, "wandb.%s is a no-op" % name)
    return _noop_class(name)


