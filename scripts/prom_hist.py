"""Quantiles of a Prometheus histogram from an exposition text, as the benchmark scripts read
banwatch's /metrics (the buckets of every label set summed, linear inside a bucket, the way
histogram_quantile interpolates)."""


def hist(text, name):
    """Sorted (upper bound, cumulative count) pairs of histogram `name`."""
    b = {}
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = line.split('le="')[1].split('"')[0]
            k = float("inf") if le == "+Inf" else float(le)
            b[k] = b.get(k, 0) + float(line.rsplit(" ", 1)[1])
    return sorted(b.items())


def quantile(buckets, p):
    """(the p-quantile, the sample count); NaN when there are no samples."""
    if not buckets or buckets[-1][1] == 0:
        return float("nan"), 0
    total = buckets[-1][1]
    want = p * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= want:
            if le == float("inf"):
                return prev_le, total
            return prev_le + (le - prev_le) * (want - prev_c) / max(c - prev_c, 1e-9), total
        prev_le, prev_c = le, c
    return float("nan"), total
