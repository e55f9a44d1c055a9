"""Median F1-F3 per clip (LPC, Praat-like settings) for real clips and synthetic speakers."""
import subprocess
import sys
from math import gcd

import numpy as np
from scipy.linalg import solve_toeplitz
from scipy.signal import lfilter, resample_poly


def load(path, sr=16000):
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(sr), "-f", "f32le", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(out, np.float32).astype(np.float64), sr


def voiced(frame, sr):
    f = frame - frame.mean()
    ac = np.correlate(f, f, "full")[len(f) - 1:]
    if ac[0] <= 0:
        return False
    lo, hi = int(sr / 400), int(sr / 60)
    return ac[lo:hi].max() / ac[0] > 0.45


def formants(x, sr, female, order=10):
    fmax = 5500 if female else 5000
    fs = 2 * fmax
    g = gcd(int(fs), int(sr))
    y = resample_poly(x, fs // g, sr // g)
    win, hop = int(0.025 * fs), int(0.01 * fs)
    wv = int(0.04 * sr)
    w = np.hamming(win)
    pre = lfilter([1, -np.exp(-2 * np.pi * 50 / fs)], [1], y)
    n = (len(y) - win) // hop
    energies = np.array([np.sum(y[i * hop:i * hop + win] ** 2) for i in range(n)])
    top = np.percentile(energies, 95) if n else 0
    rows = []
    for i in range(n):
        if energies[i] < top * 10 ** (-2.5):
            continue
        t0 = int(i * hop / fs * sr)
        if not voiced(x[t0:t0 + wv], sr):
            continue
        fr = pre[i * hop:i * hop + win] * w
        r = np.correlate(fr, fr, "full")[win - 1:win + order]
        if r[0] <= 0:
            continue
        try:
            a = solve_toeplitz(r[:-1], r[1:])
        except Exception:
            continue
        roots = np.roots(np.concatenate([[1], -a]))
        roots = roots[np.imag(roots) > 0]
        f = np.angle(roots) * fs / (2 * np.pi)
        bw = -np.log(np.abs(roots)) * fs / np.pi
        keep = (f > 90) & (f < fmax - 50) & (bw < 400)
        f = np.sort(f[keep])
        if len(f) >= 3:
            rows.append(f[:3])
    if not rows:
        return None
    return np.median(np.array(rows), axis=0), len(rows)
