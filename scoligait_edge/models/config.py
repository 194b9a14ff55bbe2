"""Model configuration: one JSON-serialisable dataclass for teacher and student."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from scoligait_edge.contract import N_FEATURES, SIL_H, SIL_W, WINDOW
from scoligait_edge.errors import ModelError

#: Knowledge-map domains in catalog order (name, size); fixed by the paper (140 + 32 + 66 = 238).
DOMAIN_SIZES: tuple[tuple[str, int], ...] = (("motion", 140), ("skeleton", 32), ("crosscorr", 66))
MODALITIES = ("km", "video", "text")
FUSIONS = ("cat", "cat+attention", "cat+latent")
ROPES = ("aligned", "unaligned")
KINDS = ("teacher", "student")


def check_config_keys(cls: type, d: dict[str, Any], what: str) -> None:
    """Refuse keys of ``d`` that are not fields of the dataclass ``cls`` (typed ``ModelError``)."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ModelError(
            f"unknown {what} config keys: {sorted(unknown)}", f"allowed keys: {', '.join(sorted(names))}"
        )


@dataclass
class ModelConfig:
    """Hyper-parameters of a ScoliGait model (teacher or student).

    ``groups`` splits each knowledge-map domain into contiguous feature groups; a
    knowledge-map token covers ``km_patch`` frames × one group, so explanations keep
    feature resolution. ``n_prompts`` is the size of the clinical-prompt table.
    """

    kind: str = "teacher"
    modalities: tuple[str, ...] = MODALITIES
    fusion: str = "cat+latent"
    rope: str = "aligned"
    dim: int = 64
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 2.0
    dropout: float = 0.1
    km_patch: int = 16
    groups: tuple[int, int, int] = (10, 4, 6)
    video_patch: tuple[int, int, int] = (16, 16, 11)  # frames, height, width of a tubelet
    video_posture: bool = False  # add window-mean silhouette ("posture") tokens to the video path
    video_stride: int = 4  # student: keep every n-th frame
    video_pool: int = 4  # student: average-pool factor per side
    latents: int = 32
    latent_heads: int = 4
    rope_base: float = 1000.0
    #: token reduction (student): pixel-shuffle merge factor (time, group) of the knowledge-map grid,
    #: run before block ``merge_at``; EViT keep rate before each block of ``keep_at``; ToMe merges
    #: ``tome_r`` token pairs before every block from 1 on (inference-time, no weights)
    merge: tuple[int, int] = (1, 1)
    merge_at: int = 0
    keep: float = 1.0
    keep_at: tuple[int, ...] = ()
    tome_r: int = 0
    n_prompts: int = 1
    text_dim: int = 384
    window: int = WINDOW
    n_features: int = N_FEATURES
    sil_hw: tuple[int, int] = (SIL_H, SIL_W)
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> ModelConfig:
        """Raise `ModelError` when a field is out of range or inconsistent."""

        def bad(cause: str) -> ModelError:
            return ModelError(f"invalid model config: {cause}", "fix the config JSON or use the defaults")

        if self.kind not in KINDS:
            raise bad(f"kind {self.kind!r} not in {KINDS}")
        if not self.modalities or any(m not in MODALITIES for m in self.modalities):
            raise bad(f"modalities {self.modalities!r} must be a non-empty subset of {MODALITIES}")
        if self.fusion not in FUSIONS:
            raise bad(f"fusion {self.fusion!r} not in {FUSIONS}")
        if self.rope not in ROPES:
            raise bad(f"rope {self.rope!r} not in {ROPES}")
        if self.window != WINDOW or self.n_features != N_FEATURES or tuple(self.sil_hw) != (SIL_H, SIL_W):
            raise bad("window/features/silhouette size differ from the I/O contract")
        if self.dim % self.heads or self.dim % self.latent_heads or (self.dim // self.heads) % 2:
            raise bad(f"dim {self.dim} must split into an even head width for {self.heads} heads")
        if self.window % self.km_patch:
            raise bad(f"km_patch {self.km_patch} must divide the window {self.window}")
        pt, ph, pw = self.video_patch
        if self.window % pt or self.sil_hw[0] % ph or self.sil_hw[1] % pw:
            raise bad(f"video_patch {self.video_patch} must divide {self.window}×{self.sil_hw}")
        if pt != self.km_patch:
            raise bad("video_patch frames must equal km_patch so tokens of the same frames align")
        if len(self.groups) != len(DOMAIN_SIZES) or any(
            not 1 <= g <= n for g, (_, n) in zip(self.groups, DOMAIN_SIZES, strict=True)
        ):
            raise bad(f"groups {self.groups!r} must give 1..size groups for each of the 3 domains")
        if self.kind == "student" and (
            pt % self.video_stride or self.sil_hw[0] % self.video_pool or self.sil_hw[1] % self.video_pool
        ):
            raise bad("video_stride/video_pool must divide the patch length and silhouette size")
        if self.depth < 1 or self.latents < 1 or self.n_prompts < 1:
            raise bad("depth, latents and n_prompts must be ≥ 1")
        self._validate_reduction(bad)
        return self

    @property
    def modalities_in_order(self) -> tuple[str, ...]:
        """The configured modalities in token order (km, video, text)."""
        return tuple(m for m in MODALITIES if m in self.modalities)

    @property
    def merges(self) -> bool:
        """Whether the pixel-shuffle merge is on (``merge`` other than ``(1, 1)``)."""
        return tuple(self.merge) != (1, 1)

    @property
    def reduces_tokens(self) -> bool:
        return self.merges or bool(self.keep_at) or self.tome_r > 0

    def _validate_reduction(self, bad: Any) -> None:
        if not self.reduces_tokens:
            return
        if self.kind != "student":
            raise bad("token reduction (merge / keep_at / tome_r) is a student option")
        rt, rg = self.merge
        n_time, n_groups = self.window // self.km_patch, sum(self.groups)
        if rt < 1 or rg < 1 or n_time % rt or n_groups % rg:
            raise bad(f"merge {self.merge} must divide the {n_time}×{n_groups} knowledge-map token grid")
        if not 0 <= self.merge_at < self.depth:
            raise bad(f"merge_at {self.merge_at} must name a block 0..{self.depth - 1}")
        if self.keep_at:
            if not 0.0 < self.keep < 1.0:
                raise bad(f"keep {self.keep} must lie in (0, 1) when keep_at is set")
            if list(self.keep_at) != sorted(set(self.keep_at)) or not all(
                1 <= i < self.depth for i in self.keep_at
            ):
                raise bad(f"keep_at {self.keep_at} must be increasing blocks 1..{self.depth - 1}")
            if self.merges and self.keep_at[0] <= self.merge_at:
                raise bad("EViT fusion (keep_at) must come after the pixel-shuffle merge (merge_at)")
        if self.tome_r < 0 or (self.tome_r and (self.keep_at or self.depth < 2)):
            raise bad("tome_r needs depth ≥ 2 and does not combine with keep_at")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """Build from a (possibly partial) dict; unknown keys are an error."""
        check_config_keys(cls, d, "model")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        try:
            return cls(**kw).validate()
        except TypeError as e:
            raise ModelError(f"malformed model config: {e}", "fix the config JSON") from e


def teacher_config(**overrides: Any) -> ModelConfig:
    """The reference teacher: 4-layer KM-ViT + 4-layer video-ViT + MiniLM prompt, latent fusion."""
    return ModelConfig(kind="teacher", **overrides).validate()


def student_config(**overrides: Any) -> ModelConfig:
    """The reference student: one 2-layer joint encoder over KM, cheap silhouette and prompt tokens."""
    base: dict[str, Any] = dict(
        kind="student",
        dim=48,
        depth=2,
        heads=4,
        mlp_ratio=2.0,
        dropout=0.0,
        km_patch=16,
        groups=(5, 2, 3),
        video_patch=(16, 16, 11),
        latents=16,
        latent_heads=4,
    )
    base.update(overrides)
    return ModelConfig(**base).validate()
