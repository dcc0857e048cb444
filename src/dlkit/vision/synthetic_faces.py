"""Synthetic faces: many identities, drawn procedurally, no download.

FaceNet's embedding generalizes to people it never saw because it is trained on very many
identities. The 8x8 digits offer ten; this generator offers as many as asked. An identity is a
set of drawn-once traits (face shape, skin and hair tone, hairline, eye spacing, height and
size, nose length, mouth width, height and curve); each image of it varies what a photo
varies (position, scale, lighting, background, noise), so that raw pixels are a poor
similarity while the traits are a good one.
"""

from __future__ import annotations

import numpy as np

from dlkit.backend import generator, get_default_dtype

__all__ = ["make_faces"]


def _traits(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    u = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731 - a local shorthand
    return {
        "rx": u(0.50, 0.72), "ry": u(0.62, 0.85), "skin": u(0.45, 0.95),
        "hair": u(0.0, 0.45), "hairline": u(-0.65, -0.25), "eye_dx": u(0.18, 0.38),
        "eye_y": u(-0.25, 0.05), "eye_r": u(0.07, 0.15), "nose": u(0.10, 0.35),
        "mouth_w": u(0.15, 0.40), "mouth_y": u(0.35, 0.60), "smile": u(-0.6, 0.6),
    }


def _render(t: dict[str, np.ndarray], size: int, rng: np.random.Generator) -> np.ndarray:
    m = len(t["rx"])
    col = lambda a: a[:, None, None]  # noqa: E731
    # photo variation: shift, scale, lighting gradient, background, noise
    shift = rng.uniform(-0.12, 0.12, (2, m))
    scale = rng.uniform(0.9, 1.1, m)
    axis = (np.arange(size) + 0.5) / size * 2 - 1
    gy, gx = np.meshgrid(axis, axis, indexing="ij")
    y = (gy[None] - col(shift[0])) / col(scale)
    x = (gx[None] - col(shift[1])) / col(scale)
    img = np.broadcast_to(col(rng.uniform(0.1, 0.9, m)), (m, size, size)).copy()
    face = (x / col(t["rx"])) ** 2 + (y / col(t["ry"])) ** 2 <= 1
    img = np.where(face, col(t["skin"]), img)
    head = (x / (col(t["rx"]) + 0.08)) ** 2 + ((y + 0.05) / (col(t["ry"]) + 0.1)) ** 2 <= 1
    img = np.where(head & (y < col(t["hairline"])), col(t["hair"]), img)
    for side in (-1, 1):
        eye = (x - side * col(t["eye_dx"])) ** 2 + (y - col(t["eye_y"])) ** 2 \
            <= col(t["eye_r"]) ** 2
        img = np.where(eye, 0.05, img)
    nose = (np.abs(x) < 0.05) & (y > col(t["eye_y"])) & (y < col(t["eye_y"] + t["nose"]))
    img = np.where(nose, col(t["skin"]) * 0.6, img)
    curve = col(t["mouth_y"]) - col(t["smile"]) * (x ** 2 - col(t["mouth_w"]) ** 2)
    mouth = (np.abs(x) < col(t["mouth_w"])) & (np.abs(y - curve) < 0.06)
    img = np.where(mouth, 0.15, img)
    light = 1 + col(rng.uniform(-0.25, 0.25, m)) * gx[None] + col(rng.uniform(-0.15, 0.15, m))
    img = img * light + rng.normal(0, 0.04, img.shape)
    return np.clip(img, 0, 1)


def make_faces(n_identities: int = 80, per_identity: int = 10, size: int = 16
               ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``n_identities`` x ``per_identity`` gray faces: X (m, size, size, 1) in [0, 1], y (m,)
    identity labels, names ``"person00"``...; drawn with dlkit's generator (seeded by
    ``dl.manual_seed``)."""
    if n_identities < 2 or per_identity < 1 or size < 8:
        raise ValueError(f"make_faces: expected n_identities >= 2, per_identity >= 1 and size "
                         f">= 8, got {n_identities}, {per_identity}, {size}")
    rng = generator()
    traits = _traits(rng, n_identities)
    y = np.repeat(np.arange(n_identities), per_identity)
    X = _render({k: v[y] for k, v in traits.items()}, size, rng)
    width = len(str(n_identities - 1))
    names = [f"person{k:0{width}d}" for k in range(n_identities)]
    return X[..., None].astype(get_default_dtype()), y.astype(np.int64), names
