"""PyTorch DDP under ``torchrun``: one process per device, gloo on CPU, NCCL on CUDA.

A plain ``eodl train ...`` runs as a world of one. Under ``torchrun --nproc-per-node K -m
workbench.cli.main train ...`` the environment carries RANK/WORLD_SIZE/LOCAL_RANK and each process
trains on its shard of the batches; gradients are averaged by DDP, metrics by :meth:`all_sum`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from shared.errors import ConfigurationError


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in the (possibly one-process) world."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module, ignore: list[str] | None = None) -> nn.Module:
        """Wrap a module for DDP when distributed (gradients averaged across processes).

        Args:
            model: the module to train.
            ignore: parameter names DDP must leave alone (e.g. the entropy bottleneck's
                quantiles, which the forward pass does not use; see :meth:`average_grads`).
        """
        if not self.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel

        if ignore:
            DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, ignore)
        device_ids = [self.local_rank] if self.device.startswith("cuda") else None
        return DistributedDataParallel(model, device_ids=device_ids)

    def average_grads(self, params: list[nn.Parameter]) -> None:
        """Average the gradients of parameters DDP does not manage (no-op for one process)."""
        if not self.distributed:
            return
        for param in params:
            if param.grad is not None:
                dist.all_reduce(param.grad, op=dist.ReduceOp.SUM)
                param.grad /= self.world_size

    def all_sum(self, values: torch.Tensor) -> torch.Tensor:
        """Sum a float64 tensor of metrics over all processes (identity for one process)."""
        if not self.distributed:
            return values
        backend_device = self.device if self.device.startswith("cuda") else "cpu"
        reduced = values.detach().to(backend_device, torch.float64).clone()
        dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
        return reduced.cpu()

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def broadcast_flag(self, flag: bool) -> bool:
        """Rank 0's decision (e.g. stop early) made known to every process."""
        if not self.distributed:
            return flag
        tensor = torch.tensor([1.0 if flag else 0.0], dtype=torch.float64)
        if self.device.startswith("cuda"):
            tensor = tensor.to(self.device)
        dist.broadcast(tensor, src=0)
        return bool(tensor.item() > 0.5)


def init_distributed(device: str | None = None) -> DistContext:
    """Join the torchrun process group when its environment is set, else a world of one.

    Args:
        device: ``cuda``, ``cpu`` or None for cuda-when-available.

    Raises:
        ConfigurationError: ``cuda`` was asked for on a machine without a GPU.
    """
    wants = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if wants.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigurationError(
            "--device cuda was given but no CUDA GPU is visible; use --device cpu"
        )
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext(device=wants)
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if wants.startswith("cuda"):
        torch.cuda.set_device(local_rank)
        wants = f"cuda:{local_rank}"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if wants.startswith("cuda") else "gloo")
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=wants)


def shutdown_distributed(ctx: DistContext) -> None:
    """Leave the process group (no-op for a world of one)."""
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (or the module itself)."""
    return model.module if hasattr(model, "module") else model
