"""Candidate features tried for the one-shot classifier and NOT adopted (`bench/probe.py
--candidates` measures them): they did not raise leave-one-kit-out macro-F1 (see README,
"What did not help"). Kept so the negative result can be reproduced and built on.

* per-window (0-20, 20-60, 60-150, 150-400, 400-1000 ms after the peak): level, centroid,
  flatness, 4-12 kHz flatness, peakiness, < 300 Hz share;
* spectral peak persistence (share of peaks still there 4 frames later), early and late;
* envelope bursts (a clap's 3-4 bursts, a shaker's grains) on a 1 ms RMS envelope, and its
  roughness; curvature and non-linearity of the dB decay (a choked hat vs a ringing ride);
* membrane modes: number of spectral peaks in 40-600 Hz and the ratio of the two strongest
  (a tom's 1 : 1.59 vs a kick); high-band vs low-band decay time.
"""

import numpy as np

from samplesort import features as F

EPS = 1e-12
WINS_MS = ((0, 20), (20, 60), (60, 150), (150, 400), (400, 1000))
NAMES = []
for a, b in WINS_MS:
    NAMES += [
        f"w{a}_{b}_{s}"
        for s in ("level_db", "centroid_hz", "flat", "hiflat", "peaky_db", "low_share_db")
    ]
NAMES += [
    "persist_late",
    "persist_early",
    "n_bursts_50ms",
    "n_bumps_300ms",
    "env_rough_db",
    "decay_curv",
    "decay_resid_db",
    "lowpeaks_n",
    "mode_ratio",
    "hi_decay_ratio",
]


def _peaks(db, thr=6.0):
    k = 7
    sm = (
        np.apply_along_axis(lambda r: np.convolve(r, np.ones(k) / k, mode="same"), 1, db)
        if db.ndim == 2
        else None
    )
    prom = db - sm
    core = (db[:, 1:-1] > db[:, :-2]) & (db[:, 1:-1] >= db[:, 2:]) & (prom[:, 1:-1] > thr)
    out = np.zeros_like(db, dtype=bool)
    out[:, 1:-1] = core
    return out


def extra(x, sr):
    x = np.asarray(x, np.float32)
    ax = np.abs(x)
    peak = ax.max()
    start = max(0, int(np.argmax(ax > peak * 10 ** (-50 / 20))) - int(0.002 * sr))
    x = x[start:] / peak
    P = F.power_spectrogram(x)
    g = F.grid(sr)
    fs = F.HOP / sr
    energy = P.sum(1)
    ip = int(np.argmax(energy))
    emax = energy[ip] + EPS
    out = []
    for a, b in WINS_MS:
        i0 = ip + int(round(a / 1000 / fs))
        i1 = max(i0 + 1, ip + int(round(b / 1000 / fs)))
        S = P[i0:i1]
        if S.shape[0] == 0 or S.sum() <= emax * 1e-7 * max(1, S.shape[0]):
            out += [-100.0, 0.0, 1.0, 1.0, 0.0, -100.0]
            continue
        m = S.mean(0) + EPS
        lvl = 10 * np.log10(S.sum(1).mean() / emax)
        cen = float(g.freqs @ m / m.sum())
        flat = float(np.exp(np.log(m).mean()) / m.mean())
        h = m[g.k4k : g.k12k]
        hf = float(np.exp(np.log(h).mean()) / h.mean()) if h.size else 1.0
        pk = float(10 * np.log10(m.max() / m.mean()))
        low = float(10 * np.log10(m[: g.k300].sum() / m.sum()))
        out += [lvl, cen, flat, hf, pk, max(low, -100.0)]
    # peak persistence: fraction of spectral peaks that persist (±1 bin) 4 frames later
    db = 10 * np.log10(P + EPS)
    pk = _peaks(db)

    def persist(lo, hi, lag=4):
        hi = min(hi, P.shape[0])
        if hi - lo <= lag:
            return 0.0
        A = pk[lo : hi - lag]
        B = pk[lo + lag : hi]
        Bd = B.copy()
        Bd[:, 1:] |= B[:, :-1]
        Bd[:, :-1] |= B[:, 1:]
        w = energy[lo : hi - lag]
        na = A.sum(1)
        hit = (A & Bd).sum(1)
        ok = na > 0
        if not ok.any():
            return 0.0
        return float(np.sum((hit[ok] / na[ok]) * w[ok]) / (w[ok].sum() + EPS))

    env_db = 10 * np.log10(energy / emax + EPS)
    act = np.nonzero(env_db > -60)[0]
    last = int(act[-1]) if act.size else ip
    ne = max(1, int(round(0.05 / fs)))
    out += [persist(ip + ne, last + 1), persist(ip, ip + ne + 4)]
    # fine envelope (1 ms RMS)
    h = max(1, int(sr * 0.001))
    n = x.size // h
    e = (
        np.sqrt((x[: n * h].reshape(n, h) ** 2).mean(1) + EPS)
        if n > 2
        else np.array([1.0, 1.0, 1.0])
    )
    edb = 20 * np.log10(e / e.max() + EPS)

    def count_bumps(seg, prom=3.0, floor=-25.0):
        c = 0
        mn = np.inf
        armed = True
        hi = -np.inf
        for v in seg:
            if armed:
                mn = min(mn, v)
                if v - mn >= prom and v > floor:
                    c += 1
                    armed = False
                    hi = v
            else:
                hi = max(hi, v)
                if hi - v >= prom:
                    armed = True
                    mn = v
        return float(c)

    pk_i = int(np.argmax(edb))
    out += [
        count_bumps(edb[max(0, pk_i - 30) : pk_i + 50]),
        count_bumps(edb[max(0, pk_i - 30) : pk_i + 300], prom=4.0, floor=-30.0),
    ]
    # envelope roughness: std of diff of smoothed-vs-raw log envelope over first 300ms after peak
    seg = edb[pk_i : pk_i + 300]
    if seg.size > 11:
        sm = np.convolve(seg, np.ones(11) / 11, mode="valid")
        rough = float(np.std(seg[5 : 5 + sm.size] - sm))
    else:
        rough = 0.0
    out.append(rough)
    # decay curvature of the dB envelope (frames from peak to last active): quadratic fit
    seg = env_db[ip : last + 1]
    if seg.size >= 5:
        t = np.arange(seg.size) * fs
        c2, c1, c0 = np.polyfit(t / max(t[-1], EPS), seg, 2)
        lin = np.polyfit(t, seg, 1)
        resid = float(np.std(seg - np.polyval(lin, t)))
        out += [float(c2), resid]
    else:
        out += [0.0, 0.0]
    # low spectral peaks (membrane modes) in 40-600 Hz of first 150 ms after peak (high-res FFT)
    n0 = int(ip * F.HOP)
    seg = x[n0 : n0 + int(0.15 * sr)]
    if seg.size > 64:
        spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size), 8192))
        fr = np.fft.rfftfreq(8192, 1 / sr)
        band = (fr > 40) & (fr < 600)
        sdb = 20 * np.log10(spec[band] + EPS)
        sdb -= sdb.max()
        is_pk = (sdb[1:-1] > sdb[:-2]) & (sdb[1:-1] >= sdb[2:]) & (sdb[1:-1] > -20)
        pk_f = fr[band][1:-1][is_pk]
        pk_v = sdb[1:-1][is_pk]
        npk = float(is_pk.sum())
        if pk_f.size >= 2:
            order = np.argsort(pk_v)[::-1]
            f1, f2 = pk_f[order[0]], pk_f[order[1]]
            ratio = float(max(f1, f2) / min(f1, f2))
        else:
            ratio = 1.0
        out += [npk, ratio]
    else:
        out += [0.0, 1.0]
    # high band decay vs low band decay
    hi_e = P[:, g.k4k :].sum(1)
    lo_e = P[:, : g.k300].sum(1)

    def t20(e):
        e = e[ip:]
        if e.size == 0 or e.max() <= 0:
            return 0.0
        d = 10 * np.log10(e / e.max() + EPS)
        ab = np.nonzero(d > -20)[0]
        return float(ab[-1] * fs) if ab.size else 0.0

    out.append(np.log((t20(hi_e) + 0.01) / (t20(lo_e) + 0.01)))
    v = np.nan_to_num(np.array(out, np.float32))
    assert v.size == len(NAMES), (v.size, len(NAMES))
    return v
