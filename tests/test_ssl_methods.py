"""Methods and heads: the trainer's interface, docs/REFERENCE.md's heads and defaults, gradient flow.

Tiny encoders and heads keep this file to a few seconds.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ssltheory.ssl import heads
from ssltheory.ssl.methods import METHODS, build_method, default_options

SMALL = {
    "simclr": dict(hidden_dim=16, out_dim=8),
    "cissl": dict(hidden_dim=16, out_dim=8),
    "dino": dict(n_codes=12, hidden_dim=16, bottleneck_dim=8),
    "dissl": dict(n_codes=12, hidden_dim=16, bottleneck_dim=8),
    "exact": dict(n_classes=3, head="mlp", hidden_dim=16),
    "swav": dict(n_prototypes=12, hidden_dim=16, out_dim=8),
    "barlow": dict(hidden_dim=16, out_dim=16),
    "simsiam": dict(hidden_dim=16, out_dim=16, pred_dim=8),
}


def assert_detached_logs(logs: dict) -> None:
    """The losses' logs contract: a non-empty dict of detached 0-d tensors (read on the host only when
    logged) or host-side Python numbers."""
    assert logs, "no logs"
    for key, value in logs.items():
        if isinstance(value, torch.Tensor):
            assert value.ndim == 0 and not value.requires_grad, (key, value)
        else:
            assert isinstance(value, (int, float)) and not isinstance(value, bool), (key, value)


class CountingEncoder(nn.Module):
    """Flatten + linear encoder that records the batch size of every call."""

    def __init__(self, in_features: int, out_dim: int = 6) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.calls: list[int] = []
        self.fc = nn.Linear(in_features, out_dim)
        self.pool = nn.AdaptiveAvgPool2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(x.shape[0])
        return self.fc(self.pool(x).flatten(1))


def _views(method, batch=4, size=8, small=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    n_big = method.n_global_views
    return [torch.rand(batch, 3, size, size, generator=g) for _ in range(n_big)] + [
        torch.rand(batch, 3, small, small, generator=g) for _ in range(method.n_views - n_big)
    ]


# ---------------------------------------------------------------- interface


@pytest.mark.parametrize("name", sorted(METHODS))
def test_training_step_returns_float32_scalar_and_detached_logs_and_trains_the_encoder(name):
    torch.manual_seed(0)
    method = build_method(name, CountingEncoder(48), **SMALL[name])
    views = _views(method)
    loss, logs = method.training_step(views, torch.tensor([0, 1, 2, 0]), step=0, total_steps=10)
    assert loss.dtype == torch.float32 and loss.ndim == 0 and torch.isfinite(loss)
    assert_detached_logs(logs)
    loss.backward()
    assert method.encoder.fc.weight.grad is not None and method.encoder.fc.weight.grad.abs().sum() > 0
    method.on_step_end(0, 10)
    assert method.needs_labels == (name == "exact")
    # forward is the same call (what DistributedDataParallel invokes)
    again, _ = method(views, torch.tensor([0, 1, 2, 0]), 0, 10)
    assert torch.isfinite(again)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_all_views_of_one_resolution_go_through_the_encoder_in_one_batch(name):
    options = dict(SMALL[name])
    if name in ("dino", "dissl"):
        options.update(n_views=4, n_global_views=2)  # multi-crop: 2 large + 2 small
    method = build_method(name, CountingEncoder(48), **options)
    method.training_step(_views(method, batch=3), torch.tensor([0, 1, 2]), 0, 10)
    student_calls = method.encoder.calls
    if name in ("dino", "dissl"):
        assert student_calls == [6, 6]  # one call per resolution
    else:
        assert student_calls == [3 * method.n_views]
    if name == "dino":
        assert method.teacher_encoder.calls == [6]  # the teacher sees the large crops only


def test_build_method_defaults_are_reference_md():
    assert default_options("simclr") == dict(temperature=0.07, hidden_dim=1024, out_dim=128, distributed="auto")
    assert default_options("cissl") == dict(
        temperature=0.07, hidden_dim=1024, out_dim=128, student_head="linear", mlp_hidden_dim=2048, distributed="auto"
    )
    dissl = default_options("dissl")
    assert (dissl["n_codes"], dissl["lambda_maximality"], dissl["beta_det_inv"]) == (16384, 2.3, 0.8)
    assert (dissl["teacher_temperature"], dissl["student_temperature"]) == (0.5, 1.0)
    assert (dissl["hidden_dim"], dissl["bottleneck_dim"]) == (1024, 512)
    dino = default_options("dino")
    assert (dino["n_codes"], dino["hidden_dim"], dino["bottleneck_dim"]) == (1000, 1024, 256)
    assert (dino["student_temperature"], dino["warmup_teacher_temperature"], dino["teacher_temperature"]) == (
        0.1,
        0.04,
        0.07,
    )
    assert (dino["center_momentum"], dino["ema_momentum"]) == (0.9, 0.996)


def test_build_method_rejects_unknown_names_options_and_bad_batches():
    enc = CountingEncoder(48)
    with pytest.raises(ValueError, match="name must be one of"):
        build_method("byol", enc)
    with pytest.raises(ValueError, match="temprature"):
        build_method("simclr", enc, temprature=0.1)
    with pytest.raises(ValueError, match="n_classes"):
        build_method("exact", enc)
    method = build_method("simclr", enc, **SMALL["simclr"])
    with pytest.raises(ValueError, match="views has 1 entries"):
        method.training_step([torch.rand(4, 3, 8, 8)], None, 0, 10)
    with pytest.raises(ValueError, match="views\\[1\\]"):
        method.training_step([torch.rand(4, 3, 8, 8), torch.rand(5, 3, 8, 8)], None, 0, 10)
    exact = build_method("exact", enc, n_classes=3)
    with pytest.raises(ValueError, match="labels"):
        exact.training_step([torch.rand(4, 3, 8, 8)], None, 0, 10)
    with pytest.raises(ValueError, match="labels must lie in"):
        exact.training_step([torch.rand(4, 3, 8, 8)], torch.tensor([0, 1, 2, 3]), 0, 10)


# ---------------------------------------------------------------- DINO: EMA teacher, schedules, frozen last layer


def test_dino_teacher_gets_no_gradient_and_follows_the_ema_rule():
    torch.manual_seed(0)
    method = build_method("dino", CountingEncoder(48), **SMALL["dino"], freeze_last_layer_steps=0)
    assert not any(p.requires_grad for p in method.teacher_encoder.parameters())
    assert not any(p.requires_grad for p in method.teacher_head.parameters())
    # the teacher starts as a copy of the student
    assert all(torch.equal(a, b) for a, b in zip(method.encoder.parameters(), method.teacher_encoder.parameters()))

    loss, _ = method.training_step(_views(method), None, 0, 10)
    loss.backward()
    assert all(p.grad is None for p in method.teacher_encoder.parameters())
    with torch.no_grad():
        for p in method.encoder.parameters():
            p.add_(1.0)  # stand-in for an optimiser step
    old = [p.clone() for p in method.teacher_encoder.parameters()]
    method.on_step_end(3, 10)
    m = 1 - (1 - 0.996) * (math.cos(math.pi * 3 / 10) + 1) / 2
    for t_old, s, t_new in zip(old, method.encoder.parameters(), method.teacher_encoder.parameters()):
        assert torch.allclose(t_new, m * t_old + (1 - m) * s)


def test_dino_schedules_match_reference_md():
    method = build_method("dino", CountingEncoder(48), **SMALL["dino"])
    total = 3000  # "300 epochs" of 10 steps: warm-up 50 epochs = 500 steps, freeze 1 epoch = 10 steps
    assert method.teacher_temperature_at(0, total) == pytest.approx(0.04)
    assert method.teacher_temperature_at(250, total) == pytest.approx(0.055)
    assert method.teacher_temperature_at(500, total) == pytest.approx(0.07)
    assert method.teacher_temperature_at(2999, total) == pytest.approx(0.07)
    assert method.ema_momentum_at(0, total) == pytest.approx(0.996)
    assert method.ema_momentum_at(total // 2, total) == pytest.approx(0.998)
    assert method.ema_momentum_at(total, total) == pytest.approx(1.0)
    assert method.last_layer_frozen_at(9, total) and not method.last_layer_frozen_at(10, total)
    explicit = build_method(
        "dino", CountingEncoder(48), **SMALL["dino"], freeze_last_layer_steps=2, teacher_temperature_warmup_steps=4
    )
    assert explicit.last_layer_frozen_at(1, 10) and not explicit.last_layer_frozen_at(2, 10)
    assert explicit.teacher_temperature_at(2, 10) == pytest.approx(0.055)


def test_dino_last_layer_gets_no_gradient_while_frozen():
    for step, frozen in ((0, True), (5, False)):
        torch.manual_seed(0)
        method = build_method("dino", CountingEncoder(48), **SMALL["dino"], freeze_last_layer_steps=5)
        loss, logs = method.training_step(_views(method), None, step, 100)
        loss.backward()
        assert logs["last_layer_frozen"] == float(frozen)
        grad = method.head.last_layer.weight.grad
        assert (grad is None) if frozen else (grad is not None and grad.abs().sum() > 0)
        assert method.head.mlp[0].weight.grad is not None  # the rest of the head trains


# ---------------------------------------------------------------- DISSL / CISSL: gradients reach the teacher


@pytest.mark.parametrize("name", ["dissl", "cissl"])
def test_jointly_trained_teacher_head_receives_gradients(name):
    torch.manual_seed(0)
    method = build_method(name, CountingEncoder(48), **SMALL[name])
    loss, _ = method.training_step(_views(method), None, 0, 10)
    loss.backward()
    for head in (method.teacher_head, method.student_head):
        grads = [p.grad for p in head.parameters()]
        assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0
    assert not hasattr(method, "teacher_encoder")  # no EMA copy


def test_exact_issl_learns_separable_classes():
    # Linear-head exact ISSL on 3 well-separated classes of images reaches accuracy 1 quickly.
    torch.manual_seed(0)
    images = torch.zeros(6, 3, 4, 4)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    for i, y in enumerate(labels):
        images[i, int(y)] = 1.0
    method = build_method("exact", CountingEncoder(48), n_classes=3, head="linear")
    for step in range(40):  # plain gradient descent (torch.optim's first call costs seconds of imports)
        loss, logs = method.training_step([images], labels, step, 40)
        method.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in method.parameters():
                p -= 0.5 * p.grad
    assert logs["accuracy"] == 1.0 and logs["loss"] < 0.1


# ---------------------------------------------------------------- heads as docs/REFERENCE.md


def _layer_signature(module: nn.Module) -> list[tuple]:
    out = []
    for m in module.modules():
        if isinstance(m, nn.Linear):
            out.append(("Linear", m.in_features, m.out_features, m.bias is not None))
        elif isinstance(m, nn.BatchNorm1d):
            out.append(("BN", m.num_features))
        elif isinstance(m, (nn.ReLU, nn.GELU)):
            out.append((type(m).__name__,))
        elif isinstance(m, heads.CosineLayer):
            out.append(("Cosine", m.weight.shape[1], m.weight.shape[0]))
    return out


def test_heads_have_reference_md_layers():
    z = 512
    assert _layer_signature(heads.simclr_head(z)) == [
        ("Linear", z, 1024, True), ("BN", 1024), ("ReLU",), ("Linear", 1024, 128, True), ("BN", 128)
    ]  # fmt: skip
    assert _layer_signature(heads.cissl_student_head(z)) == [("Linear", z, 128, True), ("BN", 128)]
    assert _layer_signature(heads.cissl_teacher_head(z)) == _layer_signature(heads.simclr_head(z))
    assert _layer_signature(heads.DINOHead(z)) == [
        ("Linear", z, 1024, True), ("BN", 1024), ("GELU",), ("Linear", 1024, 256, True), ("Cosine", 256, 1000)
    ]  # fmt: skip
    assert _layer_signature(heads.dissl_teacher_head(z, n_codes=64)) == [
        ("Linear", z, 1024, True), ("BN", 1024), ("ReLU",), ("Linear", 1024, 512, False), ("BN", 512),
        ("Linear", 512, 64, True)
    ]  # fmt: skip
    assert _layer_signature(heads.dissl_student_head(z, n_codes=64)) == [
        ("Linear", z, 512, False), ("BN", 512), ("Linear", 512, 64, True)
    ]  # fmt: skip
    assert _layer_signature(heads.exact_head(z, 10)) == [("Linear", z, 10, True)]
    # Fig. 7c's MLP-head arm as the authors run it: both heads two hidden layers of 2048
    mlp_arm = [
        ("Linear", z, 2048, True),
        ("BN", 2048),
        ("ReLU",),
        ("Linear", 2048, 2048, True),
        ("BN", 2048),
        ("ReLU",),
        ("Linear", 2048, 128, True),
        ("BN", 128),
    ]
    assert _layer_signature(heads.cissl_student_head(z, family="mlp")) == mlp_arm
    assert _layer_signature(heads.cissl_teacher_head(z, 2048, family="mlp")) == mlp_arm


def test_cissl_mlp_student_head_is_built_and_bad_families_are_refused():
    from ssltheory.ssl.methods import build_method

    method = build_method("cissl", CountingEncoder(48), hidden_dim=32, out_dim=8, student_head="mlp")
    assert any(isinstance(m, nn.ReLU) for m in method.student_head.modules())
    assert not any(
        isinstance(m, nn.ReLU) for m in build_method("cissl", CountingEncoder(48), out_dim=8).student_head.modules()
    )
    loss, _ = method.training_step(_views(method), None, step=0, total_steps=10)
    loss.backward()
    assert method.student_head[0].weight.grad is not None and torch.isfinite(loss)
    with pytest.raises(ValueError, match="family must be 'linear' or 'mlp'"):
        heads.cissl_student_head(6, family="deep")


def test_head_linear_weights_are_truncated_normal_std_002_with_zero_bias():
    head = heads.dissl_teacher_head(256, n_codes=2048, hidden_dim=1024, bottleneck_dim=512)
    for m in head.modules():
        if isinstance(m, nn.Linear):
            assert m.weight.std().item() == pytest.approx(0.02, rel=0.05)
            assert m.weight.abs().max().item() <= 2.0
            assert m.bias is None or torch.count_nonzero(m.bias) == 0


def test_dino_cosine_layer_outputs_cosines():
    head = heads.DINOHead(8, n_codes=5, hidden_dim=16, bottleneck_dim=4).eval()
    out = head(torch.randn(7, 8))
    assert out.abs().max() <= 1.0 + 1e-6
    w = torch.nn.functional.normalize(head.last_layer.weight, dim=1)
    x = torch.nn.functional.normalize(head.mlp(torch.randn(3, 8)), dim=1)
    assert torch.allclose(head.last_layer(x), x @ w.T, atol=1e-6)


# ---------------------------------------------------------------- the registry


def test_the_registry_is_the_one_source_of_every_method_option_and_default():
    """Each registered method's constructor takes exactly its entry's options, in order, keyword-only
    and without defaults of its own: the defaults live in the registry alone, so they cannot drift."""
    import inspect

    from ssltheory.ssl.methods import method_class

    for name, spec in METHODS.items():
        params = list(inspect.signature(method_class(name).__init__).parameters.values())
        assert [p.name for p in params[:2]] == ["self", "encoder"], name
        options = params[2:]
        assert [p.name for p in options] == [o.name for o in spec.options] == list(default_options(name)), name
        assert all(
            p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty for p in options
        ), name


def test_registries_and_the_train_command_import_without_torch():
    import subprocess
    import sys

    code = (
        "import sys, ssltheory.ssl.methods, ssltheory.ssl.config, ssltheory.ssl.datasets, ssltheory.commands.train, "
        "ssltheory.commands.probe; assert 'torch' not in sys.modules, "
        "sorted(m for m in sys.modules if 'torch' in m)[:3]"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-1500:]


def test_options_are_checked_against_the_registry_and_aliases_map_by_method():
    from ssltheory.ssl.methods import check_options, options_from_flags

    assert options_from_flags("simclr", {"proj_dim": 8, "hidden_dim": None}) == {"out_dim": 8}
    assert options_from_flags("dissl", {"proj_dim": 8}) == {"bottleneck_dim": 8}
    assert options_from_flags("exact", {"exact_head": "mlp"}) == {"head": "mlp"}
    with pytest.raises(
        ValueError, match=r"n_codes does not apply to method simclr \(it applies to dino, dissl, swav\)"
    ):
        options_from_flags("simclr", {"n_codes": 8})
    assert options_from_flags("simclr", {"n_codes": 8}, skip_missing=True) == {}
    with pytest.raises(ValueError, match="must be an integer"):
        check_options("dissl", {"n_codes": 2.5})
    with pytest.raises(ValueError, match="must be one of 'linear', 'mlp'"):
        check_options("cissl", {"student_head": "deep"})
    with pytest.raises(ValueError, match="set by the trainer"):
        check_options("dino", {"n_views": 4}, allow_derived=False)
    assert check_options("dino", {"n_views": 4})["n_views"] == 4  # build_method itself may set it


class ToyMethod(torch.nn.Module):
    """A method that is not built in: an MLP head and a squared distance between the two views."""

    name, needs_labels, n_views, n_global_views = "toy", False, 2, 2

    def __init__(self, encoder, width: int = 4):
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(encoder.out_dim, width)

    def training_step(self, views, labels, step, total_steps):
        a, b = (self.head(self.encoder(v)) for v in views)
        return (a - b).pow(2).mean() - a.std(0).mean(), {}

    def forward(self, views, labels, step, total_steps):
        return self.training_step(views, labels, step, total_steps)

    def on_step_end(self, step, total_steps):
        pass


def test_a_new_method_is_one_registry_entry_for_the_trainer_the_cli_and_its_help(tmp_path, monkeypatch, capsys):
    """The registry is the only list: an entry added at run time is validated, offered as --width
    in `train --help`, refused for other methods, and trained by `ssltheory train`."""
    from ssltheory import cli
    from ssltheory.ssl import methods

    spec = methods.MethodSpec(
        "toy",
        "toy: an MLP head, squared distance",
        f"{__name__}:ToyMethod",
        "pair",
        (methods.Option("width", 4, "width of the toy head", minimum=1),),
    )
    monkeypatch.setitem(methods.METHODS, "toy", spec)
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())  # argparse wraps long help lines
    assert "--width WIDTH" in help_text and "toy 4" in help_text and "toy: an MLP head" in help_text
    out = tmp_path / "toy"
    code = cli.main(
        [
            "train",
            "--method",
            "toy",
            "--data",
            "digits",
            "--steps",
            "2",
            "--batch-size",
            "16",
            "--z-dim",
            "8",
            "--width",
            "3",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0 and (out / "encoder.pt").exists()
    code = cli.main(
        [
            "train",
            "--method",
            "simclr",
            "--data",
            "digits",
            "--steps",
            "2",
            "--width",
            "3",
            "--quiet",
            "--out",
            str(tmp_path / "other"),
        ]
    )
    assert code == 2 and "width does not apply to method simclr (it applies to toy)" in capsys.readouterr().err


# ---------------------------------------------------------------- DINO: the original and the authors' variant


def _dino(variant, **extra):
    torch.manual_seed(0)
    return build_method("dino", CountingEncoder(48), **SMALL["dino"], variant=variant, **extra)


def test_dino_variants_build_the_heads_each_code_describes():
    original, authors = _dino("original"), _dino("authors")
    z = original.z_dim
    assert [type(m).__name__ for m in original.head.mlp] == ["Linear", "BatchNorm1d", "GELU", "Linear"]
    assert original.head.mlp[-1].bias is not None  # bottleneck with bias, then normalise, then the cosine layer
    assert [type(m).__name__ for m in authors.head.mlp] == ["Linear", "BatchNorm1d", "GELU"]
    assert authors.head.bottleneck.bias is None and authors.head.bottleneck.in_features == 16
    # the authors' head normalises the hidden output before the bottleneck: scaling it changes nothing
    h = torch.randn(5, 16)
    normalize = torch.nn.functional.normalize

    def f(x):
        return authors.head.last_layer(normalize(authors.head.bottleneck(normalize(x, dim=1)), dim=1))

    assert torch.allclose(f(h), f(7.0 * h), atol=1e-6)
    # the original copies the student head into the teacher; the authors re-initialise it
    assert all(
        torch.equal(a, b)
        for a, b in zip(original.head.state_dict().values(), original.teacher_head.state_dict().values())
    )
    assert not all(
        torch.equal(a, b)
        for a, b in zip(authors.head.state_dict().values(), authors.teacher_head.state_dict().values())
    )
    assert all(
        torch.equal(a, b)
        for a, b in zip(authors.encoder.state_dict().values(), authors.teacher_encoder.state_dict().values())
    )
    assert z == 6


@pytest.mark.parametrize("variant", ["original", "authors"])
def test_dino_centre_updates_once_or_once_per_teacher_view_against_a_loop(variant):
    method = _dino(variant, center_momentum=0.8)
    method.loss.center.copy_(torch.randn(1, 12))
    c0 = method.loss.center.clone()
    views = _views(method, batch=5)
    with torch.no_grad():  # all views through each head in one batch, as the method does (batch-norm statistics)
        teacher = method.teacher_head(method.teacher_encoder(torch.cat(views))).chunk(2)
        student = method.head(method.encoder(torch.cat(views)), freeze_last_layer=True).chunk(2)
    temperature = method.teacher_temperature_at(0, 10)
    loss, _ = method.training_step(views, None, 0, 10)
    m, means = 0.8, [t.mean(0, keepdim=True) for t in teacher]
    # loop oracle of the symmetrised cross-entropy, with the centre each half sees
    centres = [c0, c0] if variant == "original" else [c0, m * c0 + (1 - m) * means[0]]
    terms = []
    for v, w in ((0, 1), (1, 0)):
        t = torch.softmax((teacher[v] - centres[v]) / temperature, dim=1)
        terms.append(-(t * torch.log_softmax(student[w] / 0.1, dim=1)).sum(1).mean())
    assert loss.item() == pytest.approx(torch.stack(terms).mean().item(), rel=1e-5)
    expected = (
        m * c0 + (1 - m) * (means[0] + means[1]) / 2 if variant == "original" else m * centres[1] + (1 - m) * means[1]
    )
    assert torch.allclose(method.loss.center, expected, atol=1e-6)


def test_dino_teacher_temperature_warms_per_step_or_per_epoch():
    original, authors = _dino("original"), _dino("authors")
    total = 300 * 4  # 4 steps an epoch; warm-up 50 epochs = 200 steps
    assert [original.teacher_temperature_at(s, total) for s in (0, 100, 200)] == pytest.approx([0.04, 0.055, 0.07])
    assert original.teacher_temperature_at(1, total) > original.teacher_temperature_at(0, total)
    per_epoch = [authors.teacher_temperature_at(s, total) for s in range(200)]
    assert all(
        per_epoch[4 * e] == per_epoch[4 * e + k] for e in range(50) for k in range(4)
    )  # constant within an epoch
    assert per_epoch[0] == pytest.approx(0.04) and per_epoch[-1] == pytest.approx(0.07)  # linspace(0.04, 0.07, 50)
    assert per_epoch[4 * 10] == pytest.approx(0.04 + 0.03 * 10 / 49)
    assert authors.teacher_temperature_at(200, total) == pytest.approx(0.07)


def test_method_option_flags_never_shadow_a_training_field():
    import dataclasses

    from ssltheory.ssl.config import TrainConfig
    from ssltheory.ssl.methods import cli_options

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert not set(cli_options()) & fields
    for flag, entry in cli_options().items():  # one flag, one type across the methods that share it
        types = {METHODS[m].option(o).type for m, o in entry["methods"].items()}
        choices = {METHODS[m].option(o).choices for m, o in entry["methods"].items()}
        assert len(types) == 1 and len(choices) == 1, flag
