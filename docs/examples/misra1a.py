"""NIST StRD Misra1a: fit y = b1 (1 - exp(-b2 x)) from NIST's first start."""

import numpy as np

import signmin

# The 14 observations of NIST's Misra1a data set (volume y against pressure x).
x = np.array([77.6, 114.9, 141.1, 190.8, 239.9, 289.0, 332.8,
              378.4, 434.8, 477.3, 536.8, 593.1, 689.1, 760.0])
y = np.array([10.07, 14.73, 17.94, 23.93, 29.61, 35.18, 40.02,
              44.82, 50.76, 55.05, 61.01, 66.40, 75.47, 81.78])


def model(x, b1, b2):
    return b1 * (1 - np.exp(-b2 * x))


popt, pcov = signmin.curve_fit(model, x, y, p0=[500, 1e-4])
perr = np.sqrt(np.diag(pcov))

# NIST's certified values: parameters, their standard deviations, residual sum of squares.
certified = np.array([2.3894212918e02, 5.5015643181e-04])
certified_sd = np.array([2.7070075241e00, 7.2668688436e-06])
certified_rss = 1.2455138894e-01

rss = np.sum((y - model(x, *popt)) ** 2)
print("      estimate            certified           std. error    certified")
for name, b, c, s, cs in zip(["b1", "b2"], popt, certified, perr, certified_sd, strict=True):
    print(f"{name}  {b:18.10e}  {c:18.10e}  {s:12.6e}  {cs:12.6e}")
print(f"RSS {rss:18.10e}  {certified_rss:18.10e}")
