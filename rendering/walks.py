"""Latent walks: a closed loop through random latents, spherical in z or linear in w."""
import numpy as np

from runtime import jt


def slerp(a, b, t):
    a_unit, b_unit = a / np.linalg.norm(a), b / np.linalg.norm(b)
    omega = np.arccos(np.clip(np.dot(a_unit, b_unit), -1, 1))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def latent_walk(render, rng, code_dim, n_frames, space, n_keys=4):
    """A closed loop through n_keys random latents: slerp in z, or lerp in w; fixed noise."""
    keys = rng.randn(n_keys, code_dim).astype(np.float32)
    if space == "w":
        with jt.no_grad():
            keys = render.generator.mapping(jt.array(keys), render.labels(n_keys)).numpy()
    frames = []
    for f in range(n_frames):
        position = f * n_keys / n_frames
        a, b, t = keys[int(position)], keys[(int(position) + 1) % n_keys], position % 1
        frames.append(slerp(a, b, t) if space == "z" else (1 - t) * a + t * b)
    noise = [np.repeat(n, n_frames, 0) for n in render.noise(rng, 1)]
    return render(np.stack(frames).astype(np.float32), noise, from_w=space == "w")
