"""Memory measures (genai_labs.lab2.memory): live tensor bytes and optimizer state, used by Lab 2 and the benchmarks."""

from __future__ import annotations

import torch

from genai_labs.lab2 import memory


def test_allocated_peak_bytes_counts_what_the_function_holds_at_once() -> None:
    mib = 2**20

    def work() -> None:
        big = torch.ones(8 * mib // 4)  # 8 MiB of float32
        del big
        small = torch.ones(4 * mib // 4)
        del small

    peak = memory.allocated_peak_bytes(work, torch.device("cpu"))
    assert 8 * mib <= peak < 9 * mib  # the larger of the two, not their sum


def test_storage_bytes_counts_shared_storage_once() -> None:
    weight = torch.zeros(256, 4)
    assert memory.storage_bytes([weight, weight.t(), weight[:10]]) == weight.numel() * 4


def test_optimizer_state_bytes_counts_adamw_moments() -> None:
    weight = torch.nn.Parameter(torch.zeros(100, 10))
    optimizer = torch.optim.AdamW([weight])
    assert memory.optimizer_state_bytes(optimizer) == 0  # AdamW creates its state on the first step
    weight.grad = torch.ones_like(weight)
    optimizer.step()
    assert memory.optimizer_state_bytes(optimizer) - 2 * weight.numel() * 4 in range(0, 64)  # two moments + a step counter
    assert memory.optimizer_state_bytes(None) == 0


def test_peak_rss_is_at_least_the_current_rss() -> None:
    now = memory.rss_bytes()
    assert now is None or memory.peak_rss_bytes() >= now > 0
