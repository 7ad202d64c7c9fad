"""VLA checkpoints: the project's own format and the team's RoboVLMs Lightning ``.ckpt`` + JSON."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from policies import make_policy
from policies.vla.checkpoint import load_checkpoint, save_checkpoint
from policies.vla.config import ActionAdapterConfig, ModelConfig, PreprocessConfig, from_dict
from policies.vla.model import build_model
from policies.vla.robovlms import config_from_robovlms, write_robovlms_checkpoint
from policies.vla.tiny import build_tiny_backbone

LEFT = "Navigate around obstacles and reach the front of the beverage bottle on the left"
HEAD = {"type": "lstm", "hidden_size": 16, "num_layers": 2, "mlp_hidden": [32, 24], "chunk": 4, "n_axes": 2}
PRE = PreprocessConfig(resize=56, interpolation="bilinear")


def trained_like(tiny_dir, train_mode: str = "lora", seed: int = 1, **over):
    """A tiny model whose head, action token, LoRA (and, in full mode, backbone) weights are all
    perturbed, so a round trip that dropped any of them would change the outputs."""
    cfg = from_dict(
        ModelConfig,
        {
            "backbone": {"path": str(tiny_dir)},
            "head": HEAD,
            "window": 3,
            "train_mode": train_mode,
            "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
            **over,
        },
    )
    model = build_model(cfg)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return model.eval()


def outputs(model, seed: int = 0) -> torch.Tensor:
    px = torch.rand(2, 3, 3, 56, 56, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model(px, [LEFT, "Navigate to the right toward the gray basket"])


def rollout(policy, n: int = 4) -> np.ndarray:
    rng = np.random.default_rng(7)
    policy.reset(LEFT)
    return np.stack(
        [
            policy.act({"rgb": rng.integers(0, 256, (144, 256, 3), dtype=np.uint8), "instruction": LEFT})
            for _ in range(n)
        ]
    )


# ------------------------------------------------------------------------------------------ own format
@pytest.mark.parametrize("train_mode", ["lora", "frozen", "full"])
def test_own_format_round_trip_is_exact(tiny_dir, tmp_path, train_mode):
    model = trained_like(tiny_dir, train_mode)
    adapter = ActionAdapterConfig(gain=1.2, deadzone=0.05)
    prov = {"data_manifest": {"sources": ["x.jsonl"]}, "epochs": 3, "val_loss": 0.0123, "git_commit": None}
    path = save_checkpoint(model, tmp_path / "ckpt", preprocess=PRE, action_adapter=adapter, provenance=prov)
    files = {p.name for p in path.iterdir()}
    assert {"config.json", "head.safetensors"} <= files
    assert ("adapter" in files) == (train_mode == "lora")
    assert ("backbone" in files) == (train_mode == "full")
    loaded = load_checkpoint(path)
    assert torch.equal(outputs(loaded.model), outputs(model))
    assert loaded.preprocess == PRE and loaded.action_adapter == adapter
    assert loaded.provenance["val_loss"] == 0.0123 and loaded.provenance["epochs"] == 3
    assert loaded.model.config == model.config


def test_lora_adapter_is_saved_in_peft_layout(tiny_dir, tmp_path):
    path = save_checkpoint(
        trained_like(tiny_dir), tmp_path / "ckpt", preprocess=PRE, action_adapter=ActionAdapterConfig()
    )
    cfg = json.loads((path / "adapter" / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["r"] == 4 and cfg["lora_alpha"] == 8
    assert all(t.startswith("text_model.") for t in cfg["target_modules"])
    from safetensors.torch import load_file

    keys = load_file(str(path / "adapter" / "adapter_model.safetensors"))
    assert "base_model.model.text_model.model.layers.0.self_attn.q_proj.lora_A.weight" in keys


def test_policy_from_checkpoint_matches_and_warns_on_preprocessing_mismatch(tiny_dir, tmp_path):
    model = trained_like(tiny_dir)
    path = save_checkpoint(model, tmp_path / "ckpt", preprocess=PRE, action_adapter=ActionAdapterConfig())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = make_policy("vla", checkpoint=str(path), preprocess={"resize": 56})  # same value: no warning
    with pytest.warns(
        UserWarning, match=r"PREPROCESSING MISMATCH.*normalize: checkpoint 'div255' vs requested 'clip'"
    ):
        clipped = make_policy("vla", checkpoint=str(path), preprocess={"normalize": "clip"})
    assert clipped.preprocess_cfg.normalize == "clip"
    assert not np.allclose(rollout(same), rollout(clipped))
    with pytest.warns(UserWarning, match=r"ACTION ADAPTER MISMATCH.*gain: checkpoint 1.15 vs requested 60.0"):
        make_policy("vla", checkpoint=str(path), action_adapter={"gain": 60.0})


def test_checkpoint_errors_are_clear(tiny_dir, tmp_path):
    model = trained_like(tiny_dir)
    path = save_checkpoint(model, tmp_path / "ckpt", preprocess=PRE, action_adapter=ActionAdapterConfig())
    with pytest.raises(FileNotFoundError, match="missing config.json"):
        load_checkpoint(tmp_path / "nothing")
    cfg_file = path / "config.json"
    original = cfg_file.read_text()

    bad = json.loads(original)
    bad["model"]["head"]["hidden_size"] = "16"
    cfg_file.write_text(json.dumps(bad))
    with pytest.raises(TypeError, match=r"hidden_size='16' is invalid: expected an int"):
        load_checkpoint(path)

    bad = json.loads(original)
    bad["model"]["head"]["hidden_size"] = 24  # head weights no longer fit
    cfg_file.write_text(json.dumps(bad))
    with pytest.raises(RuntimeError, match=r"head\.safetensors: weights do not match.*shape mismatches"):
        load_checkpoint(path)

    cfg_file.write_text(original)
    other = build_tiny_backbone(tmp_path / "other-tiny", text_layers=1)
    with pytest.raises(
        ValueError, match=r"different backbone architecture.*text_config\.layers: trained 2 vs found 1"
    ):
        load_checkpoint(path, backbone_path=str(other))

    (path / "head.safetensors").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"'head.safetensors' \(head\) listed in config.json is missing"
    ):
        load_checkpoint(path)


# ------------------------------------------------------------------------------------------ RoboVLMs
def robovlms_layout(model) -> dict[str, torch.Tensor]:
    """The state dict as RoboVLMs' Lightning module holds it: ``model.`` + RoboKosMos attribute names."""
    return {f"model.{k}": v.clone() for k, v in model.state_dict().items()}


def robovlms_json(tiny_dir, window: int = 3) -> dict:
    return {
        "model": "kosmos",
        "model_path": str(tiny_dir),
        "image_size": 56,
        "window_size": window,
        "fwd_pred_next_n": HEAD["chunk"],
        "vlm": {
            "type": "AutoModelForVision2Seq",
            "pretrained_model_name_or_path": str(tiny_dir),
            "name": "kosmos",
        },
        "train_setup": {
            "freeze_backbone": True,
            "train_vision": False,
            "lora_enable": True,
            "lora_r": 4,
            "lora_alpha": 8,
            "lora_dropout": 0.0,
            "lora_bias": "none",
            # the bench's text-only placement, named the way 2026 configs may name targets (a regex)
            "lora_target_modules": r"text_model\..*\.(q_proj|k_proj|v_proj|out_proj|fc1|fc2)",
        },
        "act_head": {
            "type": "MobileVLALSTMDecoder",
            "hidden_size": HEAD["hidden_size"],
            "num_layers": 2,
            "action_dim": 2,
            "down_sample": "none",
            "latent": 1,
            "policy_rnn_dropout_p": 0.0,
            "fwd_pred_next_n": HEAD["chunk"],
            "window_size": window,
        },
    }


def test_robovlms_ckpt_round_trip_is_exact(tiny_dir, tmp_path):
    """Imports run the team's token layout and preprocessing profile; unmerged, bit-exact."""
    model = trained_like(tiny_dir, token_layout="robovlms_fallback")
    state = robovlms_layout(model)
    for key in (
        "model.action_token",
        "model.act_head.rnn.weight_ih_l0",
        "model.act_head.rnn.weight_hh_l1",
        "model.act_head.velocities.mlp.0.weight",
        "model.act_head.velocities.mlp.4.bias",
        "model.backbone.text_model.model.layers.0.self_attn.q_proj.lora_A.default.weight",
        "model.backbone.text_model.model.layers.1.ffn.fc2.lora_B.default.weight",
        "model.backbone.text_model.model.layers.0.self_attn.q_proj.base_layer.weight",
        "model.backbone.vision_model.model.post_layernorm.weight",
    ):
        assert key in state, key
    ckpt, conf = tmp_path / "epoch_epoch=09-val_loss=val_loss=0.013.ckpt", tmp_path / "mobile_vla_lora.json"
    torch.save({"state_dict": state, "epoch": 9, "global_step": 100}, ckpt)
    conf.write_text(json.dumps(robovlms_json(tiny_dir)))
    original = make_policy(
        "vla",
        model={
            "backbone": {"path": str(tiny_dir)},
            "head": HEAD,
            "window": 3,
            "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
            "token_layout": "robovlms_fallback",
        },
        preprocess={"resize": 56, "profile": "robovlms_2025"},
        merge_lora=False,
    )
    original.model.load_state_dict(model.state_dict())
    imported = make_policy("vla", robovlms_checkpoint=str(ckpt), robovlms_config=str(conf), merge_lora=False)
    assert imported.preprocess_cfg.resize == 56 and imported.preprocess_cfg.normalize == "div255"
    pre = imported.preprocess_cfg
    assert pre.profile == "robovlms_2025" and pre.channel_order == "bgr"
    assert imported.model.config.token_layout == "robovlms_fallback"
    assert imported.model.config.head.mlp_hidden == (32, 24)  # read from the tensors
    np.testing.assert_array_equal(rollout(imported), rollout(original))
    assert torch.equal(outputs(imported.model), outputs(model))


def test_robovlms_exporter_with_peft_aliases_round_trips(tiny_dir, tmp_path):
    model = trained_like(tiny_dir)
    write_robovlms_checkpoint(model, tmp_path / "m.ckpt", tmp_path / "m.json")
    keys = torch.load(tmp_path / "m.ckpt", weights_only=True)["state_dict"].keys()
    assert any(k.startswith("model.model.base_model.model.text_model.") for k in keys)
    imported = make_policy(
        "vla",
        robovlms_checkpoint=str(tmp_path / "m.ckpt"),
        robovlms_config=str(tmp_path / "m.json"),
        merge_lora=False,
    )
    assert imported.model.config.token_layout == "bench"  # recorded by the exporter
    assert torch.equal(outputs(imported.model), outputs(model))
    merged = make_policy(
        "vla", robovlms_checkpoint=str(tmp_path / "m.ckpt"), robovlms_config=str(tmp_path / "m.json")
    )
    assert merged.model.lora_merged and not any("lora_" in k for k in merged.model.state_dict())
    torch.testing.assert_close(outputs(merged.model), outputs(model), atol=1e-5, rtol=0)


def test_robovlms_strict_load_lists_missing_and_unexpected_keys(tiny_dir, tmp_path):
    state = robovlms_layout(trained_like(tiny_dir))
    del state["model.act_head.rnn.bias_hh_l1"]
    state["model.fwd_head.decoder.weight"] = torch.zeros(3)
    torch.save({"state_dict": state}, tmp_path / "bad.ckpt")
    (tmp_path / "bad.json").write_text(json.dumps(robovlms_json(tiny_dir)))
    with pytest.raises(
        RuntimeError,
        match=r"missing keys \(1\): act_head\.rnn\.bias_hh_l1.*"
        r"unexpected keys \(1\): model\.fwd_head\.decoder\.weight",
    ):
        make_policy(
            "vla", robovlms_checkpoint=str(tmp_path / "bad.ckpt"), robovlms_config=str(tmp_path / "bad.json")
        )


def test_robovlms_config_errors(tiny_dir):
    cfg = robovlms_json(tiny_dir)
    del cfg["window_size"]
    with pytest.raises(KeyError, match="missing key 'window_size'"):
        config_from_robovlms(cfg)
    cfg = robovlms_json(tiny_dir)
    cfg["act_head"]["type"] = "DiffusionDecoder"
    with pytest.raises(ValueError, match="'DiffusionDecoder' is not supported"):
        config_from_robovlms(cfg)
    cfg = robovlms_json(tiny_dir)
    cfg["fwd_pred_next_n"] = "10"
    with pytest.raises(TypeError, match="'fwd_pred_next_n' must be int"):
        config_from_robovlms(cfg)
    model_cfg, pre = config_from_robovlms(robovlms_json(tiny_dir))
    assert model_cfg.train_mode == "lora" and model_cfg.window == 3 and model_cfg.lora.r == 4
    assert model_cfg.head.mlp_hidden == (1024, 512, 256)  # RoboVLMs' fixed widths without a state dict


def test_backbone_from_robovlms_robot_pretrained_weights(tiny_dir, tmp_path):
    from policies.vla.backbone import load_backbone
    from policies.vla.config import BackboneConfig

    donor = trained_like(tiny_dir, "lora", seed=3)  # LoRA layout: base_layer keys + lora tensors
    with torch.no_grad():
        donor.backbone.text_model.model.layers[0].ffn.fc1.base_layer.weight.add_(1.0)
    torch.save({"state_dict": robovlms_layout(donor)}, tmp_path / "kosmos_ph_oxe-pretrain.pt")
    backbone, _ = load_backbone(
        BackboneConfig(path=str(tiny_dir), robovlms_weights=str(tmp_path / "kosmos_ph_oxe-pretrain.pt"))
    )
    plain, _ = load_backbone(BackboneConfig(path=str(tiny_dir)))
    got = backbone.text_model.model.layers[0].ffn.fc1.weight
    assert torch.equal(got, donor.backbone.text_model.model.layers[0].ffn.fc1.base_layer.weight)
    assert not torch.equal(got, plain.text_model.model.layers[0].ffn.fc1.weight)
    torch.save({"state_dict": {"model.act_head.rnn.weight_ih_l0": torch.zeros(1)}}, tmp_path / "head_only.pt")
    with pytest.raises(ValueError, match="no 'backbone.\\*' tensors"):
        load_backbone(BackboneConfig(path=str(tiny_dir), robovlms_weights=str(tmp_path / "head_only.pt")))


def test_other_base_weights_of_same_architecture_warn(tiny_dir, tmp_path):
    path = save_checkpoint(
        trained_like(tiny_dir), tmp_path / "ckpt", preprocess=PRE, action_adapter=ActionAdapterConfig()
    )
    other = build_tiny_backbone(tmp_path / "reseeded-tiny", seed=5)
    with pytest.warns(UserWarning, match="has the trained architecture but different weights"):
        load_checkpoint(path, backbone_path=str(other))


# ------------------------------------------------------------------------------------------ export
def test_export_retunes_inference_settings_records_them_and_loads(tiny_dir, tmp_path, capsys):
    from policies.vla.export import export_checkpoint, main

    model = trained_like(tiny_dir, train_mode="full")
    prov = {"data_manifest": {"train_episodes": ["a", "b", "c"], "val_episodes": ["d"]}}
    src = save_checkpoint(
        model, tmp_path / "last", preprocess=PRE, action_adapter=ActionAdapterConfig(), provenance=prov,
        extra={"trainer_state.pt": {"optimizer": {}}},
    )
    dst = export_checkpoint(
        src, tmp_path / "ship" / "best", ["action_adapter.snap=true", "action_adapter.snap_threshold=0.575"]
    )
    assert not (dst / "trainer_state.pt").exists()
    data = json.loads((dst / "config.json").read_text())
    assert data["provenance"]["settings_changed"] == {
        "action_adapter.snap": [False, True],
        "action_adapter.snap_threshold": [0.3, 0.575],
    }
    assert data["provenance"]["data_manifest"]["train_episodes"]["count"] == 3
    loaded = load_checkpoint(dst)
    assert loaded.action_adapter.snap and loaded.action_adapter.snap_threshold == 0.575
    torch.testing.assert_close(outputs(loaded.model), outputs(model), rtol=0, atol=0)

    assert main([str(src), str(tmp_path / "x"), "--set", "model.window=3"]) == 2
    assert main([str(src), str(tmp_path / "x"), "--set", "action_adapter.snapp=1"]) == 2
    assert main([str(src), str(tmp_path / "x"), "--set", "action_adapter.gain=["]) == 2
    assert "error: --set 'action_adapter.gain=[': the value is not YAML" in capsys.readouterr().err
    assert main([str(src), str(dst)]) == 2  # exists
    assert not (tmp_path / "x").exists() and not list((tmp_path / "ship").glob(".*"))


def test_repeat_first_frame_feeds_the_start_row_and_open_loop_skips_it(tiny_dir, tmp_path):
    from eval.open_loop import run_episode

    model = trained_like(tiny_dir, train_mode="full")
    path = save_checkpoint(model, tmp_path / "ckpt", preprocess=PRE, action_adapter=ActionAdapterConfig())
    plain = make_policy("vla", checkpoint=str(path))
    with pytest.warns(UserWarning, match="repeat_first_frame: checkpoint False vs requested True"):
        repeat = make_policy("vla", checkpoint=str(path), action_adapter={"repeat_first_frame": True})
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (4, 144, 256, 3), dtype=np.uint8)
    plain.reset(LEFT)
    expected = [plain.act({"rgb": f, "instruction": LEFT}) for f in (frames[0], frames[0], frames[1])]
    repeat.reset(LEFT)
    got = [repeat.act({"rgb": f, "instruction": LEFT}) for f in (frames[0], frames[1])]
    np.testing.assert_array_equal(got[0], expected[1])  # first step = the row-1 prediction
    np.testing.assert_array_equal(got[1], expected[2])
    assert repeat.last_timing.extra["frames_encoded"] == 1.0

    class Episode:  # the collector layout: row 1 repeats row 0's frame
        name, path, instruction, event_types = "ep", tmp_path / "ep.h5", LEFT, None
        images = np.ascontiguousarray(np.stack([frames[0], frames[0], frames[1]])[..., ::-1])
        actions = np.zeros((3, 3), np.float32)

    record = run_episode(repeat, Episode(), {}, "sim", lambda a: np.clip(a[:, :2] / 1.15, -1, 1))
    assert record.keep.tolist() == [False, True, True]
    np.testing.assert_array_equal(record.pred_command[1:], np.stack(expected[1:]))
