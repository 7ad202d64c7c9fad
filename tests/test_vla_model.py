"""The VLA model and policy on a tiny offline Kosmos-2: configs, tokenizer, LoRA placement, inputs,
preprocessing, action adaptation, chunk execution and the rolling window."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from policies import make_policy, registered_policies
from policies.vla.action_adapter import ActionAdapter, ChunkExecutor
from policies.vla.config import (
    ActionAdapterConfig,
    ModelConfig,
    PreprocessConfig,
    from_dict,
    merge,
)
from policies.vla.model import VLAModel, build_model
from policies.vla.preprocess import CLIP_MEAN, CLIP_STD, Preprocessor
from policies.vla.tiny import KOSMOS_TAG_TOKENS, build_tokenizer
from sim.taxonomy import instruction_side, side_sign

LEFT = "Navigate around obstacles and reach the front of the beverage bottle on the left"
RIGHT = "Navigate around obstacles and reach the front of the beverage bottle on the right"
TINY_HEAD = {"type": "lstm", "hidden_size": 16, "num_layers": 2, "mlp_hidden": [32], "chunk": 4, "n_axes": 2}


def model_cfg(tiny_dir, **over) -> ModelConfig:
    base = {
        "backbone": {"path": str(tiny_dir), "init": "pretrained"},
        "head": TINY_HEAD,
        "window": 3,
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
    }
    return merge(from_dict(ModelConfig, base), over)


def tiny_policy(tiny_dir, **kw):
    model = {
        "backbone": {"path": str(tiny_dir), "init": "pretrained"},
        "head": TINY_HEAD,
        "window": 3,
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        **kw.pop("model", {}),
    }
    return make_policy("vla", model=model, preprocess={"resize": 56, **kw.pop("preprocess", {})}, **kw)


def frames(n: int, seed: int = 0, h: int = 144, w: int = 256) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8) for _ in range(n)]


# ------------------------------------------------------------------------------------------ configs
def test_config_errors_name_key_value_and_expectation():
    with pytest.raises(TypeError, match=r"x\.yaml:model\.window='8' is invalid: expected an int"):
        from_dict(ModelConfig, {"window": "8"}, "x.yaml:model")
    with pytest.raises(TypeError, match=r"model\.head\.hidden_size=3\.5 is invalid: expected an int"):
        from_dict(ModelConfig, {"head": {"hidden_size": 3.5}}, "model")
    with pytest.raises(KeyError, match=r"unknown key\(s\) \['hiden_size'\]"):
        from_dict(ModelConfig, {"head": {"hiden_size": 3}}, "model")
    with pytest.raises(ValueError, match=r"dtype='int8' is invalid: expected one of fp32, bf16, fp16"):
        from_dict(ModelConfig, {"backbone": {"dtype": "int8"}}, "model")
    with pytest.raises(ValueError, match="n_axes must be 2"):
        from_dict(ModelConfig, {"head": {"n_axes": 4}})
    with pytest.raises(ValueError, match="signs must be ±1"):
        from_dict(ActionAdapterConfig, {"signs": [1, 1, 0.5]})


# ------------------------------------------------------------------------------------------ tokenizer
def test_offline_tokenizer_keeps_kosmos_tags_and_instruction_words_whole():
    tok = build_tokenizer()
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id) == (0, 1, 2)
    for tag in KOSMOS_TAG_TOKENS:
        assert tok.convert_tokens_to_ids(tag) != tok.unk_token_id
    pieces = tok.convert_ids_to_tokens(tok(f"<grounding>An image of a robot {LEFT}")["input_ids"])
    assert pieces[:3] == ["<s>", "<grounding>", "▁An"] and pieces[-2:] == ["▁left", "</s>"]
    assert "▁beverage" in pieces and "▁obstacles" in pieces
    unseen = tok("Drive past the purple chair")["input_ids"]
    assert tok.unk_token_id not in unseen  # unseen words split into trained pieces/characters


# ------------------------------------------------------------------------------------------ model
def test_lora_targets_only_language_model_linears_except_lm_head(tiny_dir):
    model = build_model(model_cfg(tiny_dir))
    lora_modules = {n.split(".lora_")[0] for n, _ in model.backbone.named_parameters() if "lora_" in n}
    plain = build_model(model_cfg(tiny_dir, train_mode="frozen")).backbone  # no LoRA injected
    linears = {n for n, m in plain.named_modules() if isinstance(m, torch.nn.Linear)}
    text_linears = {n for n in linears if n.startswith("text_model.") and not n.endswith("lm_head")}
    assert lora_modules == text_linears
    assert len(lora_modules) == 6 * model.backbone.config.text_config.layers  # q, k, v, out, fc1, fc2
    for prefix in ("vision_model.", "image_to_text_projection.", "text_model.lm_head"):
        assert not any(n.startswith(prefix) for n in lora_modules), prefix
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert all("lora_" in n for n in trainable if n.startswith("backbone."))
    assert "action_token" in trainable and any(n.startswith("act_head.rnn.") for n in trainable)


def test_trainable_parameters_follow_train_mode(tiny_dir):
    frozen = build_model(model_cfg(tiny_dir, train_mode="frozen"))
    assert not any(p.requires_grad for p in frozen.backbone.parameters())
    assert not any("lora_" in n for n, _ in frozen.named_parameters())
    full = build_model(model_cfg(tiny_dir, train_mode="full"))
    grads = {n: p.requires_grad for n, p in full.backbone.named_parameters()}
    assert all(v for n, v in grads.items() if not n.startswith("vision_model."))
    assert not any(v for n, v in grads.items() if n.startswith("vision_model."))
    full_vision = build_model(model_cfg(tiny_dir, train_mode="full", train_vision=True))
    assert all(p.requires_grad for p in full_vision.backbone.parameters())


def test_forward_shapes_and_padding_does_not_change_features(tiny_dir):
    model = build_model(model_cfg(tiny_dir)).eval()
    px = torch.rand(2, 3, 3, 56, 56, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        both = model(px, [LEFT, "go"])  # different prompt lengths: right padding in one batch
        alone = model(px[1:], ["go"])
    assert both.shape == (2, 3, 4, 2)
    assert both.abs().max() <= 1.0
    torch.testing.assert_close(both[1:], alone, atol=1e-5, rtol=0)


def test_lm_head_is_never_called(tiny_dir):
    model = build_model(model_cfg(tiny_dir)).eval()
    calls = []
    model.backbone.text_model.lm_head.register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        model(torch.rand(1, 2, 3, 56, 56), [LEFT])
    assert calls == []


def test_instruction_changes_the_output(tiny_dir):
    policy = tiny_policy(tiny_dir)
    outs = {}
    for instruction in (LEFT, RIGHT):
        policy.reset(instruction)
        for f in frames(3):
            policy.act({"rgb": f, "instruction": instruction})
        outs[instruction] = policy.last_chunk.copy()
    assert np.abs(outs[LEFT] - outs[RIGHT]).max() > 1e-4


# ------------------------------------------------------------------------------------------ policy
@pytest.mark.parametrize(
    "rgb",
    [
        np.zeros((144, 256), np.uint8),
        np.zeros((144, 256, 4), np.uint8),
        np.zeros((144, 256, 3), np.float32),
        np.zeros((144, 256, 1), np.uint8),
        [[1, 2, 3]],
    ],
)
def test_bad_observations_raise_value_error_naming_expected_shape(tiny_dir, rgb):
    policy = tiny_policy(tiny_dir)
    policy.reset(LEFT)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        policy.act({"rgb": rgb, "instruction": LEFT})


def test_missing_rgb_or_instruction_raise(tiny_dir):
    policy = tiny_policy(tiny_dir)
    with pytest.raises(ValueError, match="'rgb'"):
        policy.act({"instruction": LEFT})
    with pytest.raises(ValueError, match="no instruction"):
        policy.act({"rgb": frames(1)[0]})


def test_rolling_window_matches_batched_forward_and_resets(tiny_dir):
    policy = tiny_policy(tiny_dir)
    seq = frames(5, seed=3)
    policy.reset(LEFT)
    chunks = []
    for f in seq:
        policy.act({"rgb": f, "instruction": LEFT})
        chunks.append(policy.last_chunk.copy())
    assert len(policy._frames) == 3  # window W=3 kept across calls
    pre = policy.preprocessor
    with torch.no_grad():
        for t in (0, 2, 4):
            window = torch.stack([pre(f) for f in seq[max(0, t - 2) : t + 1]])[None]
            expect = policy.model(window, [LEFT])[0, -1].numpy()
            np.testing.assert_allclose(chunks[t], expect, atol=1e-5)
    policy.reset(LEFT)
    assert len(policy._frames) == 0
    policy.act({"rgb": seq[4], "instruction": LEFT})
    with torch.no_grad():
        expect = policy.model(pre(seq[4])[None, None], [LEFT])[0, -1].numpy()
    np.testing.assert_allclose(policy.last_chunk, expect, atol=1e-5)


def test_timing_is_reported_by_component(tiny_dir):
    policy = tiny_policy(tiny_dir)
    policy.reset(LEFT)
    action = policy.act({"rgb": frames(1)[0], "instruction": LEFT})
    assert action.shape == (3,) and action.dtype == np.float32
    t = policy.last_timing
    assert t.vlm_ms > 0 and t.head_ms > 0 and t.preprocess_ms > 0
    assert t.total_ms >= t.vlm_ms + t.head_ms
    assert t.extra["vision_ms"] + t.extra["lm_ms"] == pytest.approx(t.vlm_ms)


def test_first_k_execution_replans_every_k_steps_and_encodes_skipped_frames(tiny_dir):
    policy = tiny_policy(tiny_dir, action_adapter={"chunk_mode": "first_k", "execute_k": 2})
    policy.reset(LEFT)
    encoded, actions, chunks = [], [], []
    for f in frames(5):
        actions.append(policy.act({"rgb": f, "instruction": LEFT}))
        encoded.append(policy.last_timing.extra["frames_encoded"])
        chunks.append(policy.last_chunk.copy())
    assert encoded == [1.0, 0.0, 2.0, 0.0, 2.0]  # frames 1-2 and 3-4 encoded when next needed
    np.testing.assert_allclose(actions[0], policy.adapter.to_command(chunks[0][0]))
    np.testing.assert_allclose(actions[1], policy.adapter.to_command(chunks[0][1]))
    np.testing.assert_allclose(actions[2], policy.adapter.to_command(chunks[2][0]))


def test_resize_must_match_vision_tower(tiny_dir):
    with pytest.raises(ValueError, match="preprocess.resize is 224 but the backbone"):
        tiny_policy(tiny_dir, preprocess={"resize": 224})


def test_missing_backbone_directory_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        make_policy("vla", model={"backbone": {"path": str(tmp_path / "nowhere")}})


def test_vla_and_mean_action_are_registered():
    make_policy("mean_action", mean=[0.5, 0.0, 0.0])
    assert {"vla", "mean_action"} <= set(registered_policies())


# ------------------------------------------------------------------------------------------ preprocessing
def test_preprocessing_resize_channel_order_and_normalisation():
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = 255  # pure red
    x = Preprocessor(PreprocessConfig(resize=8))(rgb)
    assert x.shape == (3, 8, 8)
    assert torch.allclose(x[0], torch.ones(8, 8)) and torch.allclose(x[1:], torch.zeros(2, 8, 8))
    bgr = Preprocessor(PreprocessConfig(resize=8, channel_order="bgr"))(rgb)
    assert torch.allclose(bgr[2], torch.ones(8, 8)) and torch.allclose(bgr[0], torch.zeros(8, 8))
    clip = Preprocessor(PreprocessConfig(resize=8, normalize="clip"))(rgb)
    assert clip[0, 0, 0].item() == pytest.approx((1 - CLIP_MEAN[0]) / CLIP_STD[0], rel=1e-5)
    assert clip[1, 0, 0].item() == pytest.approx(-CLIP_MEAN[1] / CLIP_STD[1], rel=1e-5)
    batch = Preprocessor(PreprocessConfig(resize=8)).frames(np.stack([rgb, rgb])[None])
    assert batch.shape == (1, 2, 3, 8, 8)


# ------------------------------------------------------------------------------------------ action adapter
def test_action_adapter_gain_signs_deadzone_snap_and_abs_action():
    a = ActionAdapter(ActionAdapterConfig())
    np.testing.assert_allclose(a.to_command(np.array([1.0, -0.5])), [1.15, -0.575, 0.0], rtol=1e-6)
    hacked = ActionAdapter(ActionAdapterConfig(gain=2.0, signs=(-1.0, 1.0, 1.0), deadzone=0.15))
    np.testing.assert_allclose(hacked.to_command(np.array([0.5, 0.1, 0.2])), [-1.0, 0.0, 0.4], rtol=1e-6)
    snap = ActionAdapter(ActionAdapterConfig(snap=True))
    np.testing.assert_allclose(snap.to_command(np.array([0.9, 0.7])), [1.15, 1.15, 0.0])
    np.testing.assert_allclose(snap.to_command(np.array([0.1, -0.1])), [0.0, 0.0, 0.0])
    ab = ActionAdapter(ActionAdapterConfig(abs_action=True))
    assert ab.to_command(np.array([1.0, -0.8]), LEFT)[1] == pytest.approx(0.92)
    assert ab.to_command(np.array([1.0, 0.8]), RIGHT)[1] == pytest.approx(-0.92)
    assert side_sign(instruction_side("Navigate to the left toward the gray basket")) == 1
    assert side_sign(instruction_side("go straight")) == 0
    np.testing.assert_allclose(a.to_model(np.array([[1.15, -1.15, 0.0]]), 2), [[1.0, -1.0]])


def test_chunk_executor_first_k_and_temporal_ensemble():
    first = ChunkExecutor(ActionAdapterConfig(execute_k=2))
    assert first.needs_plan()
    first.push(np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]))
    assert first.pop()[0] == 1.0 and not first.needs_plan()
    assert first.pop()[0] == 2.0 and first.needs_plan()
    ens = ChunkExecutor(ActionAdapterConfig(chunk_mode="ensemble", ensemble_decay=0.5))
    ens.push(np.array([[1.0, 0.0], [2.0, 0.0]]))
    assert ens.pop()[0] == 1.0
    ens.push(np.array([[4.0, 0.0], [5.0, 0.0]]))
    w = np.exp(-0.5 * np.arange(2))
    assert ens.pop()[0] == pytest.approx((w[0] * 2.0 + w[1] * 4.0) / w.sum())
    with pytest.raises(RuntimeError):
        ChunkExecutor(ActionAdapterConfig()).pop()


def test_mean_action_policy_reads_stats(tmp_path):
    (tmp_path / "mean_action.json").write_text(
        '{"mean_command": [0.5, -0.1, 0.0], "mean_model": [0.4, -0.1]}'
    )
    policy = make_policy("mean_action", stats=str(tmp_path))
    policy.reset(LEFT)
    np.testing.assert_allclose(policy.act({"rgb": frames(1)[0], "instruction": LEFT}), [0.5, -0.1, 0.0])
    with pytest.raises(ValueError, match="mean_action needs"):
        make_policy("mean_action")


def test_vla_model_is_deterministic_across_builds(tiny_dir):
    a, b = build_model(model_cfg(tiny_dir)), build_model(model_cfg(tiny_dir))
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert na == nb and torch.equal(pa, pb), na
    assert isinstance(a, VLAModel)


def test_tiny_sizes_build_that_architecture_and_rebuild_when_changed(tmp_path):
    from policies.vla.backbone import load_backbone
    from policies.vla.config import BackboneConfig

    path = tmp_path / "tiny-nav"
    sizes = {"image_size": 32, "patch_size": 8, "latent_query_num": 4}
    backbone, _ = load_backbone(BackboneConfig(path=str(path), init="tiny", tiny_sizes=sizes))
    assert backbone.config.vision_config.image_size == 32
    assert backbone.config.vision_config.patch_size == 8
    assert backbone.config.latent_query_num == 4
    rebuilt, _ = load_backbone(BackboneConfig(path=str(path), init="tiny", tiny_sizes={"image_size": 28}))
    assert rebuilt.config.vision_config.image_size == 28
    assert rebuilt.config.latent_query_num == 8  # back to the default for the sizes not given
    with pytest.raises(KeyError, match="unknown tiny size.*'image_sise'"):
        load_backbone(BackboneConfig(path=str(path), init="tiny", tiny_sizes={"image_sise": 32}))


def test_tiny_sizes_must_be_a_mapping_of_ints():
    from policies.vla.config import from_dict

    with pytest.raises(TypeError, match=r"backbone.tiny_sizes=\[32\] is invalid: expected a mapping"):
        from_dict(ModelConfig, {"backbone": {"tiny_sizes": [32]}})
    with pytest.raises(TypeError, match=r"tiny_sizes.image_size='big' is invalid: expected an int"):
        from_dict(ModelConfig, {"backbone": {"tiny_sizes": {"image_size": "big"}}})
