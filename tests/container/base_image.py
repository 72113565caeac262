"""base_image.py - debian:bookworm-slim made on this machine, since no image registry is
reachable: debootstrap --variant=minbase from the machine's own Debian mirror, slimmed the way
the official image is, cached as a tarball and imported under that tag."""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from engine import CACHE_DIR, unmount_under

TAG = "debian:bookworm-slim"
# Bump when the recipe below changes, so that cached tarballs of the old recipe are not used.
RECIPE = 1
# A base older than this is made again: its packages would lag too far behind the mirror.
MAX_AGE_DAYS = 30

# What the official slim variant keeps out of the image, now and for every later apt-get
# install (its /etc/dpkg/dpkg.cfg.d/docker).
DPKG_EXCLUDES = """\
# The "slim" variant: files containers do not need stay out, also for later installs.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
"""
SLIM_DIRS = ["usr/share/doc", "usr/share/groff", "usr/share/info", "usr/share/linda",
             "usr/share/lintian/overrides", "usr/share/locale", "usr/share/man"]
SLIM_KEEP = re.compile(r"^usr/share/(doc/[^/]+/copyright|locale/locale\.alias)$")

# The official image's apt settings: no package caches or translations left in layers.
APT_CONF = {
    "docker-clean": 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
                    '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
                    'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
                    '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
                    'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n',
    "docker-no-languages": 'Acquire::Languages "none";\n',
    "docker-gzip-indexes": 'Acquire::GzipIndexes "true";\n',
    "docker-autoremove-suggests": 'Apt::AutoRemove::SuggestsImportant "false";\n',
}


def debian_mirrors() -> dict:
    """The URIs the machine's apt uses for bookworm and bookworm-security, read from
    /etc/apt/sources.list and sources.list.d (one-line and deb822 formats)."""
    found = {}
    files = [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*"))
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
                if "deb" not in fields.get("Types", "").split():
                    continue
                for suite in fields.get("Suites", "").split():
                    found.setdefault(suite, fields.get("URIs", "").split()[0])
        else:
            for m in re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", text, re.M):
                found.setdefault(m.group(2), m.group(1))
    if "bookworm" not in found:
        raise RuntimeError("the machine's apt sources name no bookworm mirror for debootstrap")
    return {s: found[s] for s in ("bookworm", "bookworm-security") if s in found}


def sources_file(mirrors: dict) -> str:
    """The image's /etc/apt/sources.list.d/debian.sources, the official layout on the machine's
    mirrors: bookworm and bookworm-updates, and bookworm-security where the machine has it."""
    keyring = "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    text = (f"Types: deb\nURIs: {mirrors['bookworm']}\nSuites: bookworm bookworm-updates\n"
            f"Components: main\n{keyring}")
    if "bookworm-security" in mirrors:
        text += (f"\nTypes: deb\nURIs: {mirrors['bookworm-security']}\n"
                 f"Suites: bookworm-security\nComponents: main\n{keyring}")
    return text


def slim(root: Path, mirrors: dict) -> None:
    """Makes a debootstrapped tree look like the official slim image."""
    (root / "etc/dpkg/dpkg.cfg.d/docker").write_text(DPKG_EXCLUDES)
    for name, text in APT_CONF.items():
        (root / "etc/apt/apt.conf.d" / name).write_text(text)
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    (root / "etc/apt/sources.list.d/debian.sources").write_text(sources_file(mirrors))
    # Services never start inside an image build.
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    for top in SLIM_DIRS:
        for dirpath, _, files in os.walk(root / top):
            for name in files:
                path = Path(dirpath) / name
                if not SLIM_KEEP.match(str(path.relative_to(root))):
                    path.unlink()
    for pattern in ("var/lib/apt/lists/*_*", "var/cache/apt/*.bin",
                    "var/cache/apt/archives/*.deb", "var/log/*.log", "var/log/apt/*"):
        for path in root.glob(pattern):
            if path.is_file():
                path.unlink()
    # debootstrap copied the host's; docker provides both at run time.
    for name in ("etc/resolv.conf", "etc/hostname", "etc/machine-id"):
        (root / name).write_text("")


def make_tarball(path: Path) -> dict:
    """debootstraps, slims and tars the base into path (written whole, then renamed). Returns
    the seconds each step took."""
    mirrors = debian_mirrors()
    root = path.with_suffix(".rootfs")
    unmount_under(root)
    shutil.rmtree(root, ignore_errors=True)
    times = {}
    began = time.monotonic()
    run = subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(root),
                          mirrors["bookworm"]], capture_output=True, text=True, timeout=900)
    times["debootstrap"] = time.monotonic() - began
    try:
        if run.returncode != 0:
            raise RuntimeError(f"debootstrap from {mirrors['bookworm']} exited "
                               f"{run.returncode}:\n{run.stdout[-3000:]}{run.stderr[-3000:]}")
        slim(root, mirrors)
        partial = path.with_suffix(".partial")
        subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf",
                        str(partial), "."], check=True, timeout=300)
        partial.rename(path)
    finally:
        unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)
    return times


def cached_tarball() -> tuple:
    """The cached base tarball, made first when missing or older than MAX_AGE_DAYS. Returns
    (path, seconds per step made now, empty when the cache was used)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = CACHE_DIR / f"bookworm-slim-standin-r{RECIPE}.tar"
    if path.exists() and time.time() - path.stat().st_mtime < MAX_AGE_DAYS * 86400:
        return path, {}
    for old in CACHE_DIR.glob("bookworm-slim-standin-r*.tar"):
        old.unlink()
    return path, make_tarball(path)


def import_base(engine, tarball: Path) -> None:
    """Imports the tarball as debian:bookworm-slim with the official image's CMD, unless the
    engine already holds an image made from this very tarball. A second tag records which
    tarball that was (a label would be inherited by every image built on the base)."""
    stamp = f"vh-tests/base:r{RECIPE}-{int(tarball.stat().st_mtime)}"
    ids = [engine.docker("image", "inspect", "-f", "{{.Id}}", ref, check=False).stdout.strip()
           for ref in (stamp, TAG)]
    if ids[0] and ids[0] == ids[1]:
        return
    engine.docker("import", "--change", 'CMD ["bash"]', str(tarball), TAG, timeout=300)
    engine.docker("tag", TAG, stamp)
