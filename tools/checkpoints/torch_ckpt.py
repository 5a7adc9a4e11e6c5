"""A PyTorch Lightning checkpoint written by torch.save itself, so the pickle-free reader
(runtime/weights/torch-zip.ts) is tested against torch's own writer.

The top-level dict has the fields PyTorch Lightning's checkpoint connector writes (epoch,
global_step, pytorch-lightning_version, state_dict, loops, callbacks, optimizer_states,
lr_schedulers, hparams_name, hyper_parameters). The state dict is an OrderedDict with the
`_metadata` attribute Module.state_dict() attaches (module path -> {'version': 1}), which pickle
stores as the dict's instance state. torch is imported here only.
"""

from collections import OrderedDict

import numpy as np
import torch

# The PyTorch Lightning version VideoCrafter's requirements.txt pins.
LIGHTNING_VERSION = "1.8.3"


def _tensor(array: np.ndarray, kind: str) -> torch.Tensor:
    if kind == "BF16":
        return torch.from_numpy(array.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(array)


def _module_metadata(keys):
    """Every module path that owns a key, parents first, as state_dict() records them."""
    meta = OrderedDict([("", {"version": 1})])
    for key in keys:
        parts = key.split(".")[:-1]
        for i in range(1, len(parts) + 1):
            meta.setdefault(".".join(parts[:i]), {"version": 1})
    return meta


def state_dict(entries, source, on_tensor=None) -> "OrderedDict[str, torch.Tensor]":
    sd = OrderedDict()
    for e in entries:
        kind = source.kind(e)
        array = source.array(e)
        if on_tensor is not None:
            on_tensor(e, kind, array)
        sd[e.key] = _tensor(array, kind)
    sd._metadata = _module_metadata(sd.keys())
    return sd


def lightning_checkpoint(sd, hyper_parameters) -> dict:
    return {
        "epoch": 3,
        "global_step": 12000,
        "pytorch-lightning_version": LIGHTNING_VERSION,
        "state_dict": sd,
        "loops": {
            "fit_loop": {
                "state_dict": {},
                "epoch_loop.state_dict": {"_batches_that_stepped": 12000},
                "epoch_progress": {"total": {"ready": 4, "started": 4, "processed": 3, "completed": 3}},
            }
        },
        "callbacks": {},
        "optimizer_states": [],
        "lr_schedulers": [],
        "hparams_name": "kwargs",
        "hyper_parameters": hyper_parameters,
    }


def save(path: str, checkpoint: dict, legacy: bool = False) -> None:
    """torch.save; `legacy` writes the pre-1.6 (non-zip) format, which vplc refuses clearly."""
    torch.save(checkpoint, path, _use_new_zipfile_serialization=not legacy)
