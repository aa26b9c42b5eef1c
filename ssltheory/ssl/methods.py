"""The registry of SSL methods: the one list that the trainer, the command line and its help read.

Each entry (:class:`MethodSpec`) names a method, says where its ``Method`` class lives, how many
views it takes, and declares its options (:class:`Option`: name, default, help, allowed values) as
plain data, so this module imports without torch (``ssltheory train --help`` stays fast). torch is
imported only when :func:`build_method` builds one.

Adding a method touches two files: ``losses/<name>.py`` (its loss and a
:class:`ssltheory.ssl.method_impl.Method` subclass that puts heads on the encoder) and one entry in
:data:`METHODS` below. ``TrainConfig.method_options``, its validation, ``train``'s flags and their
help text are generated from that entry.

``build_method(name, encoder, **options) -> Method``: options are checked against the entry (an
unknown name or a wrong type is a ``ValueError`` naming it and listing the accepted ones); those
not given take the entry's defaults (docs/REFERENCE.md's). ``default_options(name)`` lists them. The
built-in classes' own keyword defaults agree with the entries (a test checks it).

Options marked ``derived`` are set by the trainer from the run, not by the user: ``n_views`` from
``n_small_crops`` (multi-crop methods) or ``label_views`` (exact ISSL), ``n_classes`` from the
data's labels.
"""

from __future__ import annotations

import importlib
import math
import numbers
from dataclasses import dataclass

from ssltheory.errors import InputError

__all__ = [
    "Option",
    "MethodSpec",
    "METHODS",
    "build_method",
    "check_options",
    "default_options",
    "method_class",
    "method_spec",
    "options_from_flags",
    "trainer_options",
    "cli_options",
]


@dataclass(frozen=True)
class Option:
    """One keyword option of a method, as plain data.

    Attributes:
        name: the keyword of the method's constructor (and the key in ``method_options``).
        default: its value when not given (docs/REFERENCE.md's where it has one).
        help: one line for ``ssltheory train --help``.
        kind: ``int``, ``float``, ``str`` or ``bool``; None: the type of ``default``.
        choices: the allowed values, or None for any value of ``kind``.
        minimum: the smallest allowed number (ints and floats), or None.
        nullable: None is allowed (it means "derived from the run", see ``help``).
        alias: an older flag that means this option for this method (``proj_dim`` is SimCLR's
            ``out_dim`` but DINO's ``bottleneck_dim``); the command line accepts both.
        derived: set by the trainer from the run (views, classes), never a flag.
        cli: offered as a ``train`` flag (False for programmatic options such as ``distributed``).
    """

    name: str
    default: object
    help: str
    kind: type | None = None
    choices: tuple | None = None
    minimum: float | None = None
    nullable: bool = False
    alias: str | None = None
    derived: bool = False
    cli: bool = True

    @property
    def type(self) -> type:
        """The option's value type (``kind``, else the default's type)."""
        return self.kind if self.kind is not None else type(self.default)

    def check(self, value: object, method: str) -> object:
        """Return ``value`` if it is allowed for this option, else raise ValueError naming it."""
        where = f"option {self.name} of method {method}"
        if value is None:
            if self.nullable:
                return None
            raise InputError(f"{where} must be set, got None")
        if self.choices is not None:
            if value not in self.choices or isinstance(value, bool) != any(
                isinstance(c, bool) and c == value for c in self.choices
            ):
                raise InputError(f"{where} must be one of {', '.join(map(repr, self.choices))}, got {value!r}")
            return value
        kind = self.type
        if kind is int and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
            raise InputError(f"{where} must be an integer, got {value!r}")
        if kind is float and (
            isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
        ):
            raise InputError(f"{where} must be a finite number, got {value!r}")
        if kind is str and not isinstance(value, str):
            raise InputError(f"{where} must be a string, got {value!r}")
        if kind is bool and not isinstance(value, bool):
            raise InputError(f"{where} must be true or false, got {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise InputError(f"{where} must be at least {self.minimum:g}, got {value!r}")
        return int(value) if kind is int else float(value) if kind is float else value


@dataclass(frozen=True)
class MethodSpec:
    """One registry entry.

    Attributes:
        name: what ``--method`` takes.
        summary: one line for help texts.
        builder: ``"module:Class"`` of the ``Method`` subclass, imported when built.
        views: how the trainer feeds it: ``"pair"`` (two augmented views), ``"multi_crop"`` (two
            large crops plus ``n_small_crops`` small ones; options ``n_views``/``n_global_views``)
            or ``"single"`` (one view, or the image and another of its label with ``label_views``;
            option ``n_views``).
        options: its keyword options, in the constructor's order.
        needs_labels: the loss reads the labels (exact ISSL).
    """

    name: str
    summary: str
    builder: str
    views: str
    options: tuple[Option, ...]
    needs_labels: bool = False

    def option(self, name: str) -> Option:
        """The declared option ``name`` (KeyError if it has none)."""
        for option in self.options:
            if option.name == name:
                return option
        raise KeyError(name)

    @property
    def option_names(self) -> tuple[str, ...]:
        """Every option name, derived ones included."""
        return tuple(o.name for o in self.options)


_DISTRIBUTED = Option(
    "distributed",
    "auto",
    "gather across processes: auto (when a process group is up), True, False",
    choices=("auto", True, False),
    cli=False,
)


def _hidden(default: int = 1024, what: str = "the MLP heads") -> Option:
    return Option("hidden_dim", default, f"width of {what}", minimum=1)


def _views(kind: str) -> tuple[Option, ...]:
    if kind == "multi_crop":
        return (
            Option("n_views", 2, "views per image (2 large crops + the small ones)", minimum=1, derived=True),
            Option("n_global_views", 2, "large crops among the views (the teacher's)", minimum=2, derived=True),
        )
    return (Option("n_views", 1, "views per image (2 with label views)", minimum=1, derived=True),)


#: The registry: method name -> entry. docs/REFERENCE.md's defaults; pass smaller widths for CPU runs.
METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec(
            "simclr",
            "SimCLR: one MLP head shared by both views, NT-Xent (THEORY.md T9)",
            "ssltheory.ssl.method_impl:SimCLRMethod",
            "pair",
            (
                Option("temperature", 0.07, "softmax temperature of the loss", minimum=0),
                _hidden(1024, "the MLP head"),
                Option("out_dim", 128, "output size of the projection head", minimum=1, alias="proj_dim"),
                _DISTRIBUTED,
            ),
        ),
        MethodSpec(
            "cissl",
            "CISSL: linear student, MLP teacher, self-inclusive contrastive target (THEORY.md T8)",
            "ssltheory.ssl.method_impl:CISSLMethod",
            "pair",
            (
                Option("temperature", 0.07, "softmax temperature of the loss", minimum=0),
                _hidden(1024, "the teacher's MLP head"),
                Option("out_dim", 128, "output size of the projection heads", minimum=1, alias="proj_dim"),
                Option(
                    "student_head",
                    "linear",
                    "linear: the paper's CISSL (linear student); mlp: Fig. 7c's MLP-head arm "
                    "(both heads two hidden layers of mlp_hidden_dim)",
                    choices=("linear", "mlp"),
                ),
                Option("mlp_hidden_dim", 2048, "width of both heads' two hidden layers in the MLP-head arm", minimum=1),
                _DISTRIBUTED,
            ),
        ),
        MethodSpec(
            "dino",
            "DINO: EMA teacher, centring and sharpening (THEORY.md "
            "T7's contrast); the original DINO or the authors' variant",
            "ssltheory.ssl.method_impl:DINOMethod",
            "multi_crop",
            (
                Option("n_codes", 1000, "C, the number of codes", minimum=1),
                _hidden(1024, "the MLP head"),
                Option("bottleneck_dim", 256, "bottleneck before the cosine layer", minimum=1, alias="proj_dim"),
                Option("student_temperature", 0.1, "student softmax temperature", minimum=0),
                Option("teacher_temperature", 0.07, "teacher temperature after its warm-up", minimum=0),
                Option("warmup_teacher_temperature", 0.04, "teacher temperature at step 0", minimum=0),
                Option(
                    "teacher_temperature_warmup_steps",
                    None,
                    "steps of the teacher-temperature warm-up (default 50/300 of the run)",
                    kind=int,
                    minimum=0,
                    nullable=True,
                ),
                Option("center_momentum", 0.9, "momentum of the teacher's centre", minimum=0),
                Option("ema_momentum", 0.996, "EMA momentum of the teacher at step 0 (cosine to 1)", minimum=0),
                Option(
                    "freeze_last_layer_steps",
                    None,
                    "steps with the last layer frozen (default 1/300 of the run)",
                    kind=int,
                    minimum=0,
                    nullable=True,
                ),
                Option(
                    "variant",
                    "original",
                    "original: the original DINO's head, centre and schedule; authors: the ISSL "
                    "authors' re-implementation",
                    choices=("original", "authors"),
                ),
                *_views("multi_crop"),
                _DISTRIBUTED,
            ),
        ),
        MethodSpec(
            "dissl",
            "DISSL: jointly trained MLP teacher and linear student, no EMA (THEORY.md T7)",
            "ssltheory.ssl.method_impl:DISSLMethod",
            "multi_crop",
            (
                Option("n_codes", 16384, "C, the number of codes", minimum=1),
                _hidden(1024, "the teacher's MLP"),
                Option("bottleneck_dim", 512, "bottleneck of both heads", minimum=1, alias="proj_dim"),
                Option("lambda_maximality", 2.3, "weight of the batch-marginal entropy (maximality)", minimum=0),
                Option(
                    "beta_det_inv",
                    0.8,
                    "weight of the teacher's cross-view term (determinism and invariance)",
                    minimum=0,
                ),
                Option("teacher_temperature", 0.5, "teacher softmax temperature", minimum=0),
                Option("student_temperature", 1.0, "student softmax temperature", minimum=0),
                *_views("multi_crop"),
                _DISTRIBUTED,
            ),
        ),
        MethodSpec(
            "exact",
            "exact ISSL: cross-entropy predicting the known class M from z (THEORY.md T6)",
            "ssltheory.ssl.method_impl:ExactMethod",
            "single",
            (
                Option(
                    "n_classes",
                    None,
                    "K, the number of classes of M (the data's labels)",
                    kind=int,
                    minimum=1,
                    nullable=True,
                    derived=True,
                ),
                Option(
                    "head",
                    "linear",
                    "head family predicting M: linear (T1) or mlp (T2)",
                    choices=("linear", "mlp"),
                    alias="exact_head",
                ),
                _hidden(1024, "the MLP head"),
                *_views("single"),
            ),
            needs_labels=True,
        ),
        MethodSpec(
            "swav",
            "SwAV: swapped prediction of Sinkhorn-Knopp codes over prototypes, multi-crop, optional queue",
            "ssltheory.ssl.baseline_methods:SwAVMethod",
            "multi_crop",
            (
                Option("n_prototypes", 3000, "K, the number of prototypes", minimum=1, alias="n_codes"),
                _hidden(2048, "the projection MLP"),
                Option("out_dim", 128, "size of the normalised projection", minimum=1, alias="proj_dim"),
                Option("temperature", 0.1, "student softmax temperature", minimum=0),
                Option("epsilon", 0.05, "Sinkhorn's entropic regularisation", minimum=0),
                Option("sinkhorn_iterations", 3, "Sinkhorn-Knopp iterations", minimum=1),
                Option(
                    "freeze_prototypes_steps",
                    None,
                    "steps with frozen prototypes (default 1/100 of the run)",
                    kind=int,
                    minimum=0,
                    nullable=True,
                ),
                Option("queue_length", 0, "queued projections per global crop (0: no queue)", minimum=0),
                Option(
                    "queue_start_step",
                    None,
                    "step from which the queue is used (default 15/100 of the run)",
                    kind=int,
                    minimum=0,
                    nullable=True,
                ),
                *_views("multi_crop"),
                _DISTRIBUTED,
            ),
        ),
        MethodSpec(
            "barlow",
            "Barlow Twins: cross-correlation of the two views' projections towards the identity",
            "ssltheory.ssl.baseline_methods:BarlowTwinsMethod",
            "pair",
            (
                _hidden(8192, "the 3-layer projector"),
                Option("out_dim", 8192, "output size of the projector", minimum=1, alias="proj_dim"),
                Option("lambda_offdiag", 0.0051, "weight of the off-diagonal (redundancy) term", minimum=0),
                _DISTRIBUTED,
            ),
        ),
        MethodSpec(
            "simsiam",
            "SimSiam: predictor and stop-gradient, negative cosine between views",
            "ssltheory.ssl.baseline_methods:SimSiamMethod",
            "pair",
            (
                _hidden(2048, "the 3-layer projector"),
                Option("out_dim", 2048, "output size of the projector", minimum=1, alias="proj_dim"),
                Option("pred_dim", 512, "bottleneck of the predictor", minimum=1),
            ),
        ),
    )
}


def _spec(name: object) -> MethodSpec:
    if not isinstance(name, str) or name not in METHODS:
        raise InputError(f"name must be one of {', '.join(METHODS)}, got {name!r}")
    return METHODS[name]


def method_spec(name: object) -> MethodSpec:
    """The entry of ``--method name`` (ValueError "method 'x' is unknown; choose one of ..." otherwise)."""
    if not isinstance(name, str) or name not in METHODS:
        raise InputError(f"method {name!r} is unknown; choose one of {', '.join(METHODS)}")
    return METHODS[name]


def default_options(name: str) -> dict[str, object]:
    """The options ``build_method(name, ...)`` accepts, with their defaults (docs/REFERENCE.md), in order."""
    return {o.name: o.default for o in _spec(name).options}


def check_options(name: str, options: dict, *, allow_derived: bool = True) -> dict[str, object]:
    """Check ``options`` against method ``name``'s entry; return them completed with the defaults.

    Raises ValueError for an unknown method, an option it does not declare (naming the accepted
    ones), a value of the wrong type or out of range, or (``allow_derived=False``, as for
    ``TrainConfig.method_options``) a derived option, which the trainer sets.
    """
    spec = _spec(name)
    if not isinstance(options, dict):
        raise InputError(f"method options must be a dict of option name -> value, got {type(options).__name__}")
    unknown = sorted(set(options) - set(spec.option_names), key=str)
    if unknown:
        accepted = [o.name for o in spec.options if allow_derived or not o.derived]
        raise InputError(f"unknown option(s) {unknown} for method {name!r}; accepted: {sorted(accepted)}")
    resolved = default_options(name)
    for key, value in options.items():
        option = spec.option(key)
        if option.derived and not allow_derived:
            raise InputError(f"option {key} of method {name} is set by the trainer ({option.help}); leave it out")
        resolved[key] = option.check(value, name)
    return resolved


def method_class(name: str) -> type:
    """The ``Method`` subclass of method ``name`` (imports torch)."""
    module, _, attr = _spec(name).builder.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_method(name: str, encoder, **options: object):
    """Build the method ``name`` around ``encoder`` (an ``nn.Module`` with an int ``out_dim``).

    ``options`` are checked by :func:`check_options` (unknown ones raise ValueError naming them
    and listing the accepted ones); the rest take the registry's defaults. Returns a
    :class:`ssltheory.ssl.method_impl.Method`; see that module for the contract.
    """
    resolved = check_options(name, options)
    return method_class(name)(encoder, **resolved)


def trainer_options(
    name: str, options: dict, *, n_small_crops: int = 0, label_views: bool = False, n_classes: int | None = None
) -> dict[str, object]:
    """The options the trainer passes to ``build_method``: the user's ``options`` plus the derived
    ones (view counts from ``n_small_crops`` / ``label_views``, K from the data)."""
    spec = _spec(name)
    options = dict(options)
    if spec.views == "multi_crop":
        options["n_views"] = 2 + n_small_crops
    elif spec.views == "single":
        options["n_views"] = 2 if label_views else 1
    if "n_classes" in spec.option_names and n_classes is not None:
        options["n_classes"] = n_classes
    return options


def cli_options() -> dict[str, dict]:
    """Every user-settable option over the registry, for the command line: flag name -> {"option":
    the first declaration (type, help), "methods": {method: option name}} (aliases included, so
    ``proj_dim`` maps to ``out_dim`` or ``bottleneck_dim`` by method)."""
    flags: dict[str, dict] = {}
    for spec in METHODS.values():
        for option in spec.options:
            if option.derived or not option.cli:
                continue
            for flag in (option.name, option.alias):
                if flag is None:
                    continue
                entry = flags.setdefault(flag, {"option": option, "methods": {}})
                entry["methods"][spec.name] = option.name
    return flags


def options_from_flags(name: str, values: dict, *, skip_missing: bool = False) -> dict[str, object]:
    """Translate flag-style values (option names or their aliases, None = not given) into method
    ``name``'s option names. A value the method has no option for raises ValueError naming the
    methods it applies to, unless ``skip_missing`` (a recipe shared by several methods)."""
    spec = _spec(name)
    flags = cli_options()
    out: dict[str, object] = {}
    for flag, value in values.items():
        if value is None:
            continue
        target = flags.get(flag, {"methods": {}})["methods"].get(name)
        if target is None and flag in spec.option_names and not spec.option(flag).derived:
            target = flag
        if target is None:
            if skip_missing:
                continue
            users = sorted(flags.get(flag, {"methods": {}})["methods"])
            applies = f"it applies to {', '.join(users)}" if users else "no method has it"
            raise InputError(f"option {flag} does not apply to method {name} ({applies})")
        if target in out and out[target] != value:
            raise InputError(f"option {target} of method {name} is given twice with different values")
        out[target] = value
    return out
