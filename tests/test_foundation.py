"""Config, optimizer groups, the schedule, atomic writes and the CLI dispatcher."""

import json

import pytest
import torch
from torch import nn

from minibert.config import BertConfig, ConfigError, preset
from tokenizer.atomic import atomic_write
from train.cli import COMMANDS, main
from train.optim import (
    NonFiniteLossError,
    build_optimizer,
    linear_schedule,
    optimizer_step,
    parameter_groups,
    set_up_optimization,
)


def test_config_reads_real_hf_config(minilm_dir):
    c = BertConfig.from_pretrained(minilm_dir)
    assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads) == (384, 6, 12)
    assert "architectures" not in c.to_dict()


def test_config_round_trip(tmp_path):
    c = preset("kantaibert", id2label={0: "no", 1: "yes"})
    c.save_pretrained(tmp_path)
    back = BertConfig.from_pretrained(tmp_path)
    assert back == c
    assert back.model_type == "roberta" and back.num_labels == 2


def test_config_wrong_type_names_file_and_key(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"num_hidden_layers": "six"}))
    with pytest.raises(ConfigError, match=r"config\.json.*num_hidden_layers"):
        BertConfig.from_pretrained(tmp_path)


def test_config_bad_json_names_line(tmp_path):
    (tmp_path / "config.json").write_text('{\n"hidden_size": 32,\n}')
    with pytest.raises(ConfigError, match="line 3"):
        BertConfig.from_pretrained(tmp_path)


def test_config_heads_must_divide_hidden():
    with pytest.raises(ConfigError, match="divisible"):
        BertConfig(hidden_size=30, num_attention_heads=4)


def test_no_decay_on_bias_and_layernorm():
    model = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 4), nn.LayerNorm(4))
    decay, no_decay = parameter_groups(model, 0.01)
    assert {id(p) for p in decay["params"]} == {id(model[0].weight), id(model[1].weight)}
    assert len(no_decay["params"]) == 3 and no_decay["weight_decay"] == 0.0


def test_tied_parameter_listed_once():
    emb = nn.Embedding(5, 4)
    head = nn.Linear(4, 5, bias=False)
    head.weight = emb.weight
    groups = parameter_groups(nn.ModuleList([emb, head]), 0.01)
    assert sum(len(g["params"]) for g in groups) == 1


def test_linear_schedule_shape():
    p = nn.Parameter(torch.zeros(1))
    opt = build_optimizer(nn.ParameterList([p]), lr=1.0)
    sched = linear_schedule(opt, warmup_steps=2, total_steps=6)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.5, 1.0, 1.0, 0.75, 0.5, 0.25])


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "a.txt"
    atomic_write(target, lambda p: p.write_text("old"))

    def boom(p):
        p.write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_text() == "old"
    assert [x.name for x in tmp_path.iterdir()] == ["a.txt"]


def test_cli_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


def test_fused_adamw_matches_plain_loop():
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(7, 5), nn.LayerNorm(5), nn.Linear(5, 3))
    b = nn.Sequential(nn.Linear(7, 5), nn.LayerNorm(5), nn.Linear(5, 3))
    b.load_state_dict(a.state_dict())
    fused = build_optimizer(a, lr=1e-2)
    plain = torch.optim.AdamW(parameter_groups(b, 0.01), lr=1e-2, eps=1e-8, foreach=False)
    assert fused.defaults["fused"], "torch has a fused AdamW for CPU since 2.4"
    x = torch.randn(13, 7)
    for _ in range(5):
        for model, opt in ((a, fused), (b, plain)):
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-5)


def _inf_gradient_step(precision: str):
    """A one-layer model, set up at `precision`, whose gradient overflows on step 7."""
    model = nn.Linear(3, 2)
    opt = set_up_optimization(model, lr=0.1, weight_decay=0.0, total_steps=10, warmup_steps=0,
                              precision=precision, device=torch.device("cpu"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt.scaler.scale(model(torch.ones(1, 3)).sum() * float("inf")).backward()
    return model, opt, before


def test_optimizer_step_refuses_divergence_outside_fp16():
    model, opt, before = _inf_gradient_step("fp32")
    assert not opt.scaler.is_enabled() and "scaler" not in opt.state_dict()
    with pytest.raises(NonFiniteLossError, match="step 7: gradient norm is"):
        optimizer_step(opt, model.parameters(), 1.0, step=7, hint="lower --lr")
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_optimizer_step_fp16_skips_overflow_and_checkpoints_its_scale():
    model, opt, before = _inf_gradient_step("fp16")
    scale = opt.scaler.get_scale()
    optimizer_step(opt, model.parameters(), 1.0, step=7, hint="")  # skipped, not refused
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert opt.scaler.get_scale() == scale / 2 and opt.scheduler.last_epoch == 1
    assert all(p.grad is None for p in model.parameters())
    fresh = set_up_optimization(model, lr=0.1, weight_decay=0.0, total_steps=10,
                                warmup_steps=0, precision="fp16", device=torch.device("cpu"))
    fresh.load_state_dict(opt.state_dict())
    assert fresh.scaler.get_scale() == scale / 2 and fresh.scheduler.last_epoch == 1
