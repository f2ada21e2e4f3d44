#!/usr/bin/env python3
"""The two ceilings of the GPU, through PyTorch, timed with CUDA events
(medians after warm-up): memory bandwidth from a 2 GiB device-to-device
copy (bytes read plus bytes written), and the fp32 rate (TF32 off: the
CUDA cores, as our kernels use) of a 8192^3 product on random data.
Prints one JSON object."""
import json
import statistics

import torch


def median_seconds(fn, warmup=5, runs=20):
    times = []
    for i in range(warmup + runs):
        start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        if i >= warmup:
            times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def main():
    n = 1 << 29  # floats: 2 GiB per buffer
    src = torch.randn(n, device="cuda")
    dst = torch.empty_like(src)
    copy = median_seconds(lambda: dst.copy_(src))
    assert torch.equal(dst, src)
    del src, dst
    torch.backends.cuda.matmul.allow_tf32 = False
    m = 8192
    a, b = (torch.randn(m, m, device="cuda") for _ in range(2))
    product = median_seconds(lambda: a @ b, warmup=3, runs=10)
    props = torch.cuda.get_device_properties(0)
    print(json.dumps({
        "device": props.name, "sms": props.multi_processor_count,
        "memory_gib": props.total_memory / 2**30,
        "copy_bandwidth_gbs": 2 * 4 * n / copy / 1e9,
        "fp32_gflops": 2 * m**3 / product / 1e9}))


if __name__ == "__main__":
    main()
