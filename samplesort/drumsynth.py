# SPDX-License-Identifier: GPL-2.0-or-later  (a port of LMMS's DrumSynth.cpp)
"""Render DrumSynth `.ds` presets to audio in numpy.

This is a re-implementation in Python of the DrumSynth 2.0 engine by Paul Kellett (mda-vst.com,
1998-2000), following the C++ version in LMMS (`src/core/DrumSynth.cpp`, class `DrumSynth`,
`GetDSFileSamples`; LMMS is GPL-2.0-or-later, DrumSynth port (c) 2007 Paul Giblock). The
algorithm is kept: the INI look-up rules of its own `GetPrivateProfileString` (first matching
section, keys up to the next `[` line, empty or missing values take the default, numbers read
with sscanf semantics), envelopes as "time,level" points in 44.1 kHz samples scaled by Stretch,
1200-sample blocks after which a section whose envelope has ended is switched off, a length of
2400 + 1200 * floor(longest active envelope / 1200) samples, the tone with linear sweep or
exponential droop, the noise slope filter, overtones (add / FM / ring mod / 808 cymbal), the two
noise bands, the resonant main filter, bit and rate reduction, clipping and 16-bit output.

The INI reader trims trailing blanks as LMMS 1.2 (Debian's version) does. Where rounding decides
structure the C code's float32 arithmetic is kept (time stretch, hence envelope ends and length;
cymbal oscillator periods; the float constants for pi and the semitone ratio), elsewhere this port
computes in float64. Deliberate differences: noise comes from numpy (seeded from the preset's
bytes unless `seed` is given) instead of C `rand()`; phases do not drift the way the C code's
float32 accumulators do on long tones; stale values that the C code leaves in global arrays
between presets read as zero; undefined behaviour is guarded (rate-reduction steps that do not
divide 1200, zero noise-band steps, negative resonance, more than 32 envelope points); NaN
samples (a zero-length tone envelope) become 0 as LMMS's float-to-short cast makes them on x86.
"""

from __future__ import annotations

import math
import re
import zlib
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

from samplesort.errors import CorpusError

__all__ = ["render"]

_BLOCK = 1200  # DrumSynth generates and switches sections off in blocks of 1200 samples
_HOLD = 442000.0  # an envelope holds its last segment until this time (x stretch)
_PI = float(np.float32(math.pi))  # the C code's float constants: frequencies are defined
_SEMITONE = float(np.float32(1.0594631))  # with them, which decides where square edges fall
_MAX_SECONDS = 120.0  # refuse absurd lengths (the C code would try to allocate them)
_MAX_POINTS = 32  # envpts[8][3][32] in the C code
_FLOAT = re.compile(r"\s*([+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))")
_INT = re.compile(r"\s*([+-]?\d+)")
_SECTIONS = ("Tone", "Noise", "Overtones", "NoiseBand", "NoiseBand2")


def _scan(text: str, pattern: re.Pattern[str], cast: type) -> float:
    """sscanf("%f" / "%d"): the leading number, 0 when there is none."""
    m = pattern.match(text)
    return cast(m.group(1)) if m else cast(0)


class _Env:
    """One envelope, parsed as GetEnv does it (the value is split on ',' and ' ' only)."""

    def __init__(self, text: str) -> None:
        times = np.zeros(_MAX_POINTS + 2, dtype=np.float32)  # float32 as in the C code: the
        levels = np.zeros(_MAX_POINTS + 2)  # stretched times decide block counts and length
        token, fresh, ep = "", True, 0
        for ch in text[:255]:
            if ch in ", ":
                (times if ch == "," else levels)[ep] = _scan(token, _FLOAT, float)
                fresh = True
                if ch == " ":
                    ep += 1
                    if ep >= _MAX_POINTS:  # the C code would write past its array here
                        ep -= 1
                        break
            else:
                token, fresh = (ch if fresh else token + ch), False
        else:
            levels[ep] = _scan(token, _FLOAT, float)
        times[ep + 1] = -1.0
        self.times, self.levels = times, levels
        self.raw_end = float(times[ep])  # envData[e][MAX] as GetEnv leaves it (unstretched)
        p = 0
        while times[p + 1] >= 0.0:  # LongestEnv: the last point before the first negative time
            p += 1
        self.last = times[p]

    def curve(self, n: int, stretch: np.float32, *, overtone: bool = False) -> np.ndarray:
        """envData[e][ENV] for t = 0..n-1, as UpdateEnv steps it (one point per update)."""
        out = np.zeros(n)
        end = float(self.last * stretch)
        t, pnt = 0, 0
        while t < n:
            if overtone and t >= end:  # overtone envelopes drop to 0 and stay there
                break
            if pnt + 1 >= len(self.times):
                out[t:] = out[t - 1]
                break
            nextt = float(self.times[pnt + 1] * stretch)
            final = nextt < 0.0
            if final:
                nextt = float(np.float32(_HOLD) * stretch)
            level = self.levels[pnt] * 0.01
            slope = (self.levels[pnt + 1] * 0.01 - level) / max(nextt - t, 1.0)
            pnt += 1
            stop = min(n, max(t + 1, math.ceil(nextt)))
            out[t:stop] = level + slope * np.arange(stop - t)
            t = stop
            if final and t < n:
                out[t:] = out[t - 1]
                break
        return out


class _Ini:
    """DrumSynth's private GetPrivateProfileString/Int/Float over the preset text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def string(self, sec: str, key: str, default: str, size: int) -> str:
        text, pos = self.text, 0
        while True:  # is.ignore(..., '['); getline(..., ']'); strcasecmp
            i = text.find("[", pos)
            j = text.find("]", i + 1) if i >= 0 else -1
            if j < 0:
                return default
            pos = j + 1
            if text[i + 1 : j].lower() == sec.lower():
                break
        for line in text[pos:].split("\n"):
            if line.startswith("["):
                break
            m = re.match(r"[ \t=]*([^ \t=]+)([ \t=]?)(.*)", line, re.S)
            if not m or m.group(1).lower() != key.lower():
                continue
            value = m.group(3).lstrip("\r").split("\r")[0] if m.group(2) else ""
            value = value.rstrip(" \t")[: size - 1]
            return value or default
        return default

    def int(self, sec: str, key: str, default: int) -> int:
        v = self.string(sec, key, "", 16)
        return int(_scan(v, _INT, int)) if v else default

    def float(self, sec: str, key: str, default: float) -> float:
        v = self.string(sec, key, "", 16)
        return _scan(v, _FLOAT, float) if v else default

    def env(self, sec: str, key: str) -> _Env:
        return _Env(self.string(sec, key, "0,0 100,0", 256))


def _short(x: float) -> int:
    """static_cast<short>(float) as x86 does it: truncate, keep the low 16 bits."""
    return ((int(x) + 32768) & 0xFFFF) - 32768


def _active(end: float, n: int) -> int:
    """Samples a section runs: whole blocks until the block end passes its envelope end."""
    return min(n, _BLOCK * max(1, math.ceil(float(end) / _BLOCK)))


def _wave(ph: np.ndarray, form: int) -> np.ndarray:
    if form == 0:
        return np.sin(ph)
    if form == 1:
        return np.abs(2.0 * np.sin(0.5 * ph)) - 1.0
    saw = ph / (2 * _PI)
    saw -= np.floor(saw)
    if form == 2:
        return 1.0 - 4.0 * np.abs(saw - 0.5)
    if form == 3:
        return 2.0 * saw - 1.0
    return np.where(saw < 0.5, 1.0, -1.0)


def _pulse_periods(
    tuning: float, tone_hz: float, hz1: float, hz2: float, sync1: bool, sync2: bool, fs: float
) -> list[float]:
    """The six cymbal oscillator periods in samples, computed in float32 like the C code: the
    counter fires when it exceeds the period, so whether a round period such as 7.0 comes out
    just above or just below the integer decides when the pulses fall."""
    f = np.float32
    tune = np.power(f(_SEMITONE), f(tuning))
    two_pi = f(2.0) * f(_PI)

    def omega(hz: float) -> np.float32:
        return f(tune * f(2.0) * f(_PI) * f(hz)) / f(fs)

    tone = omega(tone_hz)
    tone = f(0.001) if abs(tone) < 0.001 else tone
    o1, o2 = omega(hz1), omega(hz2)
    c1 = two_pi / (o1 / tone if sync1 else o1)
    c2 = two_pi / (o2 / tone if sync2 else o2)
    return [float(c1 + (c2 - c1) * f(0.2) * f(j)) for j in range(6)]


def _cymbal(x: np.ndarray, f: np.ndarray, q: float) -> np.ndarray:
    """The 808-cymbal band-pass (state-variable, frequency from envelope 2)."""
    out: list[float] = []
    keep = out.append
    c0 = c1 = c2 = 0.0
    for xi, fi in zip(x.tolist(), f.tolist(), strict=True):
        c0 += fi * c1
        c1 += fi * (xi + c2 - q * c1 - c0)
        c2 = xi
        keep(c1)
    return np.array(out)


def _main_filter(x: np.ndarray, fb: np.ndarray, res: float) -> np.ndarray:
    """The resonant two-pole low-pass (MFin/MFout) with per-sample feedback `fb`."""
    out: list[float] = []
    keep = out.append
    fin = fout = 0.0
    gain = (res * (1.0 + 1.0 / fb)).tolist()
    for xi, fi, gi in zip(x.tolist(), fb.tolist(), gain, strict=True):
        tmp = xi + gi * (fin - fout)
        fin = fi * (fin - tmp) + tmp
        fout = fi * (fout - fin) + fin
        keep(fout)
    return np.array(out)


def render(path: Path, *, sr_hz: int = 44100, seed: int | None = None) -> np.ndarray:
    """Render the DrumSynth preset at `path`: mono float32 in [-1, 1] at `sr_hz`.

    The noise is seeded from the file's bytes (same preset, same audio) unless `seed` is given.
    Raises CorpusError for an unreadable file, one that is not a DrumSynth v1/v2 preset, or one
    that renders silence.
    """
    path = Path(path)
    if sr_hz <= 0:
        raise ValueError(f"sr_hz must be positive, got {sr_hz}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read DrumSynth preset: {exc.strerror or exc}") from exc
    ini = _Ini(raw.decode("latin-1"))
    ver = ini.string("General", "Version", "", 32)
    if ver[:9].lower() != "drumsynth" or len(ver) < 12 or ver[11] not in "12":
        raise CorpusError(f"{path}: not a DrumSynth v1/v2 preset (Version={ver[:40]!r})")
    rng = np.random.default_rng(zlib.crc32(raw) if seed is None else seed)
    try:
        with np.errstate(all="ignore"):
            pcm = _synth(ini, float(sr_hz), rng)
    except (ArithmeticError, ValueError, _Unrenderable) as exc:
        raise CorpusError(f"{path}: cannot render DrumSynth preset: {exc}") from exc
    if not pcm.any():
        raise CorpusError(f"{path}: DrumSynth preset renders silence")
    return (pcm / 32767.0).astype(np.float32)


class _Unrenderable(Exception):
    """The preset asks for something this port will not render (absurdly long)."""


def _synth(ini: _Ini, fs: float, rng: np.random.Generator) -> np.ndarray:
    """GetDSFileSamples: the 16-bit samples, as float64."""
    g = "General"
    f32 = np.float32  # the time scale is float32 arithmetic, as in the C code
    stretch = f32(f32(0.01) * f32(ini.float(g, "Stretch", 100.0)))
    stretch = f32(min(max(stretch, f32(0.2)), f32(10.0)) * (f32(fs) / f32(44100.0)))
    dgain = 10.0 ** (0.05 * ini.float(g, "Level", 0.0))
    tuning = ini.float(g, "Tuning", 0.0)
    w = 2.0 * _PI * _SEMITONE**tuning / fs  # Hz -> rad/sample
    main_filter = 2 * ini.int(g, "Filter", 0)
    resonance = math.sqrt(max(0.0, 0.0101 * ini.float(g, "Resonance", 0.0)))
    highpass = ini.int(g, "HighPass", 0)
    filter_env = ini.env(g, "FilterEnv")

    on = [ini.int(s, "On", 0) == 1 for s in _SECTIONS]
    level = [ini.int(s, "Level", 0 if s == "Noise" else 128) for s in _SECTIONS]
    envs = {
        "tone": ini.env("Tone", "Envelope"),
        "noise": ini.env("Noise", "Envelope"),
        "ot1": ini.env("Overtones", "Envelope1"),
        "ot2": ini.env("Overtones", "Envelope2"),
        "band1": ini.env("NoiseBand", "Envelope"),
        "band2": ini.env("NoiseBand2", "Envelope"),
    }
    owner = {"tone": 0, "noise": 1, "ot1": 2, "ot2": 2, "band1": 3, "band2": 4}
    ends = {k: e.last * stretch for k, e in envs.items()}  # float32, like envData[e][MAX]
    longest = max([ends[k] for k in envs if on[owner[k]]], default=f32(0.0))
    n = 2 * _BLOCK + _BLOCK * int(longest / f32(_BLOCK))
    if n > _MAX_SECONDS * fs:
        raise _Unrenderable(f"longest envelope lasts {longest / fs:.0f} s")
    t = np.arange(n, dtype=np.float64)
    df = np.zeros(n)

    if on[1]:  # noise, through the slope filter TT = a x0 + b x1 + c x2 + d TT
        slope = ini.int("Noise", "Slope", 0)
        gain = float(level[1] * level[1])
        if slope < 0:
            coef, d = [1.0 + slope / 105.0, 0.0, 0.0], -slope / 105.0
            gain *= 1.0 + 0.0005 * slope * slope
        else:
            coef, d = [1.0, -slope / 50.0, abs(slope) / 100.0], 0.0
        m = _active(ends["noise"], n)
        tt = lfilter(coef, [1.0, -d], rng.uniform(-1.0, 1.0, m))
        df[:m] = tt * gain * envs["noise"].curve(m, stretch)

    tone = envs["tone"]
    tone_hz = ini.float("Tone", "F1", 200.0)
    f1 = w * tone_hz
    f1 = 0.001 if abs(f1) < 0.001 else f1
    f2 = w * ini.float("Tone", "F2", 120.0)
    droop = ini.float("Tone", "Droop", 0.0)
    rate, raw_end = np.float64(0.0), np.float64(tone.raw_end)
    if droop > 0.0:  # the rate uses the unstretched end (a zero end gives NaN, as in C)
        rate = np.power(10.0, (droop - 20.0) / 30.0) * -4.0 / raw_end
        f2 = f1 + (f2 - f1) / (1.0 - np.exp(rate * raw_end))
    phase0 = ini.float("Tone", "Phase", 90.0) / 57.29578
    phi = np.full(n, f2)  # per-sample phase increment; F2 once the tone is off
    if on[0]:
        m = _active(ends["tone"], n)
        if droop > 0.0:
            phi[:m] = f2 + (f1 - f2) * np.exp(t[:m] * rate)
        else:
            phi[:m] = f1 + t[:m] / np.float64(ends["tone"]) * (f2 - f1)
        tphi = phase0 + np.cumsum(phi[:m])
        df[:m] += float(level[0] * level[0]) * tone.curve(m, stretch) * np.sin(tphi)

    o = "Overtones"
    mode = ini.int(o, "Method", 2)
    hz1, hz2 = ini.float(o, "F1", 200.0), ini.float(o, "F2", 120.0)
    of1, of2 = w * hz1, w * hz2
    w1, w2 = ini.int(o, "Wave1", 0), ini.int(o, "Wave2", 0)
    bal2 = float(ini.int(o, "Param", 50))
    drive, bal2 = bal2**3 / 125000.0, bal2 * 0.01
    bal1 = 1.0 - bal2
    if main_filter == 0:
        main_filter = ini.int(o, "Filter", 0)
    sync1 = ini.int(o, "Track1", 0) == 1 and on[0]
    sync2 = ini.int(o, "Track2", 0) == 1 and on[0]
    of1, of2 = (of1 / f1 if sync1 else of1), (of2 / f1 if sync2 else of2)
    ot = np.zeros(n)
    if on[2]:
        ol = float(level[2] * level[2])
        e1 = envs["ot1"].curve(n, stretch, overtone=True)
        e2 = envs["ot2"].curve(n, stretch, overtone=True)
        tstart = (phase0 if on[0] else 0.0) + np.cumsum(phi)
        ph1 = tstart * of1 if sync1 else phase0 + (t + 1.0) * of1
        ph2 = tstart * of2 if sync2 else phase0 + (t + 1.0) * of2
        if mode == 0:  # add
            ot = ol * (bal1 * e1 * _wave(ph1, w1) + bal2 * e2 * _wave(ph2, w2))
        elif mode == 1:  # FM
            ot = ol * e1 * _wave(ph1 + drive * e2 * _wave(ph2, w2), w1)
        elif mode == 2:  # ring modulation
            ot = ol * e1 * _wave(ph1, w1) * ((1 - drive / 8) + (drive / 8) * e2 * _wave(ph2, w2))
        elif mode == 3:  # 808 cymbal: six pulse oscillators into a swept band-pass
            q = (0.28 + bal1 * bal1) ** 2
            fire = np.zeros(n, dtype=bool)
            for period in _pulse_periods(tuning, tone_hz, hz1, hz2, sync1, sync2, fs):
                if not np.isfinite(period):
                    continue
                if period <= 1.0:
                    fire[:] = True
                    break
                hits = np.floor(np.arange(math.ceil(n / period) + 1) * period).astype(np.int64)
                fire[hits[hits < n]] = True
            ot = _cymbal(np.where(fire, ol * e1, 0.0), e2 * (1.8 - 0.7 * q) * 0.92, q)

    for i, sec in ((3, "NoiseBand"), (4, "NoiseBand2")):
        if not on[i]:
            continue
        bf = w * ini.float(sec, "F", 1000.0)
        dfw = ini.int(sec, "dF", 50)
        bq = dfw * dfw / (10000.0 - 6600.0 * (math.sqrt(max(bf, 0.0)) - 0.19))
        step = max(1, abs(1 + int((40.0 - dfw / 2.5) / (bq + 1.0 + bf))))
        env = envs["band1" if i == 3 else "band2"]
        m = _active(ends["band1" if i == 3 else "band2"], n)
        jitter = rng.uniform(-0.5, 0.5, m // step + 1)[np.arange(m) // step]
        bphi = _PI / 4 + np.cumsum(bf + bq * jitter)
        df[:m] += np.cos(bphi) * env.curve(m, stretch) * float(level[i] * level[i])

    if main_filter in (1, 2):  # 1: filter overtones only, 2: filter everything
        fe = filter_env.curve(n, stretch)
        fb = np.where(fe > 0.2, 1.001 - 10.0 ** (fe - 1.0), 0.999 - 0.7824 * fe)
        src = ot if main_filter == 1 else df + ot
        low = _main_filter(src, fb, resonance)
        df = df + low - highpass * ot if main_filter == 1 else low - highpass * src
    else:
        df = df + ot

    clip = 32700
    if ini.int("Distortion", "On", 0) == 1:
        dstep = 1 + ini.int("Distortion", "Rate", 0)
        dstep = {7: 20, 6: 10, 5: 8}.get(dstep, max(dstep, 1))
        loudest = max([0] + [lv for lv, flag in zip(level, on, strict=True) if flag])
        atten = dgain * _short(float(loudest * loudest))
        clip = 32700 if atten > 32700 else _short(atten)
        atten = 2.0 ** (2.0 * ini.int("Distortion", "Bits", 0))
        dgain = atten * dgain * 10.0 ** (0.05 * ini.int("Distortion", "Clipping", 0))
        steps = np.trunc(df / atten)  # bit reduction; static_cast<int> gives INT_MIN when
        steps[~(np.abs(steps) < 2.0**31)] = -(2.0**31)  # out of range or NaN (x86)
        df = dgain * steps
        if dstep > 1:  # rate reduction: averages of dstep samples inside each 1200 block
            per_block = -(-_BLOCK // dstep)
            idx = np.arange(n)
            group = (idx // _BLOCK) * per_block + (idx % _BLOCK) // dstep
            df = (np.bincount(group, df) / np.bincount(group))[group]
    else:
        df = df * dgain
    pcm = np.where(df > clip, clip, np.where(df < -clip, -clip, np.trunc(df)))
    return np.nan_to_num(pcm, nan=0.0)  # (short)NaN is 0 on x86: LMMS plays those as silence
