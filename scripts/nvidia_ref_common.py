"""Shared helpers for scripts/nvidia-ref-verify.py and scripts/nvidia-ref-parse.py.

These scripts run NVIDIA's reference Python verifier (PyPI nv-local-gpu-verifier==2.7.3,
installed by scripts/nvidia-ref-setup.sh into ${OTR_CACHE:-$HOME/.cache/otr}/nvref-venv)
in-process, as an oracle for differential tests and benchmarks of our Rust verifier.

This module holds no NVIDIA logic. It only:
  * re-executes the calling script with the venv's interpreter (exit 2 if the venv is missing);
  * imports NVIDIA's `verifier` package without its import-time side effects
    (verifier/config.py deletes and re-creates ./verifier.log in the *current directory*
    and logs INFO to stdout; we import from a temporary directory, drop the file handler,
    and send NVIDIA's log output to stderr or nowhere so stdout stays pure JSON);
  * checks that input files exist (exit 2 with a clear message otherwise).
"""

import json
import logging
import os
import sys
import tempfile
import warnings

PKG = "nv-local-gpu-verifier"
PKG_VERSION = "2.7.3"
EXIT_SETUP = 2  # missing venv / missing sample files

SAMPLES_DIR = os.environ.get("OTR_NVIDIA_SAMPLES", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "nvidia-samples"))


def venv_dir():
    cache = os.environ.get("OTR_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "otr")
    return os.path.join(cache, "nvref-venv")


def die_setup(msg):
    sys.stderr.write(f"{os.path.basename(sys.argv[0])}: {msg}\n")
    sys.exit(EXIT_SETUP)


def ensure_venv():
    """Re-exec the running script under the venv interpreter unless already there."""
    venv = venv_dir()
    py = os.path.join(venv, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        return
    if not os.path.exists(py):
        die_setup(f"NVIDIA reference verifier venv not found at {venv}\n"
                  f"  run: scripts/nvidia-ref-setup.sh   (installs {PKG}=={PKG_VERSION})")
    os.execv(py, [py, os.path.abspath(sys.argv[0])] + sys.argv[1:])


def require_files(pairs):
    """pairs: list of (option name, path). Exit 2 naming every missing file."""
    missing = [(opt, p) for opt, p in pairs if p is not None and not os.path.isfile(p)]
    if missing:
        lines = "\n".join(f"  {opt}: {p}" for opt, p in missing)
        hint = ""
        if any(p.startswith(SAMPLES_DIR) for _, p in missing) or not os.path.isdir(SAMPLES_DIR):
            hint = (f"\n  (NVIDIA sample evidence is expected under {SAMPLES_DIR}; "
                    f"see {SAMPLES_DIR}/INDEX.md. Set OTR_NVIDIA_SAMPLES to relocate.)")
        die_setup(f"input file(s) missing:\n{lines}{hint}")


def import_nvidia_verifier(verbose=False):
    """Import NVIDIA's package quietly. Returns the `verifier` namespace package."""
    warnings.simplefilter("ignore")  # DeprecationWarning (package EOL notice), cryptography naive-datetime warnings
    try:
        import importlib.metadata as md
        ver = md.version(PKG)
    except Exception:
        die_setup(f"{PKG} is not installed in {sys.prefix}; run scripts/nvidia-ref-setup.sh")
    if ver != PKG_VERSION:
        die_setup(f"{PKG} {ver} installed, expected {PKG_VERSION}; run scripts/nvidia-ref-setup.sh")

    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="nvref-") as tmp:
        os.chdir(tmp)  # config.py creates/deletes ./verifier.log at import time
        try:
            import verifier.config as cfg
        finally:
            os.chdir(cwd)
        for h in list(cfg.event_log.handlers):
            cfg.event_log.removeHandler(h)
            h.close()
    # NVIDIA's logs: its stdout handler is moved to stderr and muted unless verbose. The loggers stay
    # at ERROR (DEBUG if verbose) so callers can attach a handler that captures NVIDIA's error records.
    quiet = logging.CRITICAL + 1
    for h in list(cfg.info_log.handlers):
        if isinstance(h, logging.StreamHandler):
            h.setStream(sys.stderr)
            h.setLevel(logging.DEBUG if verbose else quiet)
    if verbose:
        eh = logging.StreamHandler(sys.stderr)
        eh.setFormatter(logging.Formatter("[nv-event] %(levelname)s: %(message)s"))
        cfg.event_log.addHandler(eh)
    cfg.info_log.setLevel(logging.DEBUG if verbose else logging.ERROR)
    cfg.event_log.setLevel(logging.DEBUG if verbose else logging.ERROR)
    cfg.event_log.propagate = False
    cfg.info_log.propagate = False
    import verifier  # noqa: F401
    return cfg


def read_report(path):
    """Report as bytes. Hex text is decoded with NVIDIA's own convert_string_to_blob (the function
    NVIDIA's --test_no_gpu mode uses for hopperAttestationReport.txt); otherwise the file is taken as binary."""
    from verifier.utils import convert_string_to_blob
    raw = open(path, "rb").read()
    try:
        return convert_string_to_blob(raw.decode("ascii")), "hex"
    except (UnicodeDecodeError, ValueError):
        return raw, "binary"


def dump(obj, pretty):
    sys.stdout.write(json.dumps(obj, indent=2 if pretty else None, sort_keys=False) + "\n")
