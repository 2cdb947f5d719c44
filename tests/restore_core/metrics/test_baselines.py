import os

import numpy as np
import pytest
from skimage import data

from restore_core.metrics import bm3d_denoise, estimate_sigma, nlm_denoise

SIGMA = 0.1


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


@pytest.fixture(scope="module")
def clean_and_noisy():
    clean = data.camera()[100:196, 200:296].astype(np.float64) / 255  # 96x96: the cameraman's head and coat
    noisy = np.clip(clean + SIGMA * np.random.default_rng(0).standard_normal(clean.shape), 0, 1)
    return clean, noisy


def test_estimate_sigma_recovers_noise_level(clean_and_noisy):
    _, noisy = clean_and_noisy
    assert estimate_sigma(noisy) == pytest.approx(SIGMA, rel=0.15)


def test_bm3d_blind_raises_psnr_by_a_margin(clean_and_noisy):
    clean, noisy = clean_and_noisy
    denoised = bm3d_denoise(noisy, estimate_sigma(noisy))
    assert denoised.shape == clean.shape and denoised.dtype == np.float64
    assert denoised.min() >= 0.0 and denoised.max() <= 1.0
    # Measured: ~20.3 dB noisy -> ~28 dB.
    assert _psnr(denoised, clean) > _psnr(noisy, clean) + 5.0


def test_nlm_blind_raises_psnr_by_a_margin(clean_and_noisy):
    clean, noisy = clean_and_noisy
    denoised = nlm_denoise(noisy, h=estimate_sigma(noisy))
    assert denoised.shape == clean.shape and denoised.dtype == np.float64
    assert denoised.min() >= 0.0 and denoised.max() <= 1.0
    # Measured: ~20.3 dB noisy -> ~26 dB.
    assert _psnr(denoised, clean) > _psnr(noisy, clean) + 4.0


def test_zero_sigma_returns_input(clean_and_noisy):
    _, noisy = clean_and_noisy
    np.testing.assert_array_equal(bm3d_denoise(noisy, 0.0), noisy)


def test_colour_image_rejected():
    with pytest.raises(ValueError, match="grayscale"):
        nlm_denoise(np.zeros((8, 8, 3)), 0.1)


def test_bm3d_from_two_threads_at_once_runs_both(tmp_path):
    """The bm3d package's C library aborts the process when two threads call it at once; the baseline takes turns,
    and gives the same output every time (its own threads would vary it by about 1e-5). In a process of its own: an
    abort would end pytest's."""
    import subprocess
    import textwrap

    script = textwrap.dedent("""
        import threading
        import numpy as np
        from restore_core.metrics import bm3d_denoise
        rng = np.random.default_rng(0)
        images = [np.clip(0.5 + 0.1 * rng.standard_normal((48, 48)), 0, 1) for _ in range(4)]
        out = [None] * 4
        def run(i):
            out[i] = bm3d_denoise(images[i], 0.1)
        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        alone = bm3d_denoise(images[3], 0.1)
        print(all(o is not None for o in out), np.array_equal(out[3], alone))  # one thread: the same output
    """)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    from tests.worker_forks import python_command  # forked, torch imported

    done = subprocess.run([*python_command(), "-c", script], cwd=root, capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stdout) == (0, "True True\n"), done.stderr[-2000:]
