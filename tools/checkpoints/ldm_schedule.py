"""The buffers VideoCrafter2's LatentDiffusion saves at the top of its state dict, with their
real values (they are computed from the config, not learned).

Facts from AILab-CVC/VideoCrafter lvdm/models/ddpm3d.py: DDPM.register_schedule registers, as
float32, betas .. posterior_mean_coef2 (lvlb_weights is non-persistent; logvar is a plain
tensor); LatentDiffusion registers scale_arr when use_scale, and scale_factor only when
scale_by_std. The betas come from lvdm/models/utils_diffusion.py make_beta_schedule: 'linear'
is linspace(sqrt(start), sqrt(end), T) squared, in float64. scale_arr: linspace(scale_a,
scale_b, mid_step) followed by scale_b repeated T times unless fix_scale_bug (then T -
mid_step times), so with the VideoCrafter2 config it has T + mid_step = 1400 entries.
"""

import numpy as np

from manifest import Entry


def _betas(cfg) -> np.ndarray:
    T = cfg.get("timesteps", 1000)
    start, end = cfg.get("linear_start", 1e-4), cfg.get("linear_end", 2e-2)
    schedule = cfg.get("beta_schedule", "linear")
    if schedule == "linear":
        return np.linspace(start ** 0.5, end ** 0.5, T, dtype=np.float64) ** 2
    if schedule == "sqrt_linear":
        return np.linspace(start, end, T, dtype=np.float64)
    raise ValueError(f"ldm schedule: beta_schedule {schedule!r} is not covered")


def schedule_buffers(cfg):
    """[(name, float64 values)] in registration order."""
    betas = _betas(cfg)
    alphas = 1.0 - betas
    acp = np.cumprod(alphas, axis=0)
    acp_prev = np.append(1.0, acp[:-1])
    v = cfg.get("v_posterior", 0.0)
    post_var = (1 - v) * betas * (1.0 - acp_prev) / (1.0 - acp) + v * betas
    out = [
        ("betas", betas),
        ("alphas_cumprod", acp),
        ("alphas_cumprod_prev", acp_prev),
        ("sqrt_alphas_cumprod", np.sqrt(acp)),
        ("sqrt_one_minus_alphas_cumprod", np.sqrt(1.0 - acp)),
        ("log_one_minus_alphas_cumprod", np.log(1.0 - acp)),
        ("sqrt_recip_alphas_cumprod", np.sqrt(1.0 / acp)),
        ("sqrt_recipm1_alphas_cumprod", np.sqrt(1.0 / acp - 1)),
        ("posterior_variance", post_var),
        ("posterior_log_variance_clipped", np.log(np.maximum(post_var, 1e-20))),
        ("posterior_mean_coef1", betas * np.sqrt(acp_prev) / (1.0 - acp)),
        ("posterior_mean_coef2", (1.0 - acp_prev) * np.sqrt(alphas) / (1.0 - acp)),
    ]
    if cfg.get("use_scale", False):
        T, mid = len(betas), cfg.get("mid_step", 400)
        a, b = cfg.get("scale_a", 1.0), cfg.get("scale_b", 0.3)
        tail = T - mid if cfg.get("fix_scale_bug", False) else T
        out.append(("scale_arr", np.concatenate((np.linspace(a, b, mid), np.full(tail, b)))))
    if cfg.get("scale_by_std", False):
        out.append(("scale_factor", np.array(cfg.get("scale_factor", 1.0), dtype=np.float64)))
    return out


def schedule_keys(cfg, prefix: str = ""):
    return [Entry(prefix + name, tuple(values.shape), "schedule") for name, values in schedule_buffers(cfg)]
