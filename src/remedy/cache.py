"""On-disk cache for curvature and per-example gradients: safetensors plus a JSON of the settings,
reused only when the fingerprints of the model, the data and the settings all match."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from remedy import inputs
from remedy.examples import Data, Examples, Streamed
from remedy.io import atomic_write, write_json


def fingerprint(*items: nn.Module | Tensor | str | Data) -> str:
    """A short SHA-256 of modules' state (names and bytes), tensors' bytes, labelled data (read batch by batch)
    and strings."""
    digest = hashlib.sha256()
    for item in items:
        if isinstance(item, (Examples, Streamed)):
            for part in item.batches(1024):
                for tensor in (*inputs.leaves(part.x), part.y):
                    digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(item, nn.Module):
            for name, value in item.state_dict().items():
                digest.update(name.encode())
                digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(item, Tensor):
            digest.update(str(item.dtype).encode() + str(tuple(item.shape)).encode())
            digest.update(item.detach().cpu().contiguous().numpy().tobytes())
        else:
            digest.update(item.encode())
    return digest.hexdigest()[:20]


class Cache:
    """Tensors saved under ``folder`` as ``<kind>-<key>.safetensors`` beside ``<kind>-<key>.json``."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def _paths(self, kind: str, settings: dict[str, Any]) -> tuple[Path, Path, str]:
        text = json.dumps(settings, sort_keys=True)
        stem = f"{kind}-{fingerprint(text)}"
        return self.folder / f"{stem}.safetensors", self.folder / f"{stem}.json", text

    def store(self, kind: str, settings: dict[str, Any]) -> Path:
        """A folder for ``kind`` results that hold for exactly these settings (chunk stores of a resumable pass)."""
        return self._paths(kind, settings)[0].with_suffix("")

    def load(self, kind: str, settings: dict[str, Any], device: torch.device) -> dict[str, Tensor] | None:
        """The cached tensors for exactly these settings, or ``None``."""
        data, meta, text = self._paths(kind, settings)
        if not (data.is_file() and meta.is_file()) or json.dumps(json.loads(meta.read_text()), sort_keys=True) != text:
            return None
        return {name: t.to(device) for name, t in load_file(str(data)).items()}

    def save(self, kind: str, settings: dict[str, Any], tensors: dict[str, Tensor]) -> None:
        """Write the tensors, then the settings that make them valid (each atomically)."""
        data, meta, _ = self._paths(kind, settings)
        cpu = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
        atomic_write(data, lambda tmp: save_file(cpu, str(tmp)))
        write_json(meta, settings)
