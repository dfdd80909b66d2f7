# SPDX-License-Identifier: MIT
"""Shared helpers for the backbone's Python tests: the npm package and the
Node modules fetched once into the build folder, test images made with the
vips command-line tool, and bb-tool."""
import fcntl
import os
import shutil
import subprocess
import sys

BUILD = os.environ.get("FLUFF_BUILD_DIR", "build")
SOURCE = os.environ.get("FLUFF_SOURCE_DIR", ".")
CACHE = os.path.join(BUILD, "backbone-cache")
BB_TOOL = os.path.join(BUILD, "tests", "bb-tool")
SKIP = 77


def skip(reason):
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def run(*cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"FAILED: {' '.join(map(str, cmd))}\n{r.stdout}{r.stderr}")
    return r.stdout


def fetch_package():
    """The nsfwjs tarball's path, fetched with npm once."""
    r = subprocess.run([os.path.join(SOURCE, "tools", "fetch-backbone.sh"), CACHE], capture_output=True, text=True)
    if r.returncode == 2:
        skip("npm is not installed, so the nsfwjs package cannot be fetched")
    if r.returncode != 0:
        skip(f"the nsfwjs package could not be fetched with npm: {r.stderr.strip()}")
    return r.stdout.strip()


def node_modules():
    """A folder holding nsfwjs and @tensorflow/tfjs (pure-JS CPU backend)."""
    if not shutil.which("npm") or not shutil.which("node"):
        skip("npm or node is not installed, so nsfwjs cannot be run")
    dest = os.path.join(CACHE, "node")
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(CACHE, ".node.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        mods = os.path.join(dest, "node_modules")
        if not os.path.exists(os.path.join(mods, ".fluff-complete")):
            r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--no-save", "--prefix", dest,
                                "nsfwjs@4.4.0", "@tensorflow/tfjs@4"], capture_output=True, text=True)
            if r.returncode != 0:
                skip(f"npm install nsfwjs@4.4.0 @tensorflow/tfjs failed: {r.stderr.strip()[-400:]}")
            open(os.path.join(mods, ".fluff-complete"), "w").close()
    return mods


def vips(*args):
    run("vips", *args)


def make_images(d):
    """Varied real JPEGs (and one PNG with alpha) of several sizes and aspect
    ratios, so decoding, cropping and resizing all have work to do."""
    if not shutil.which("vips"):
        skip("the vips command-line tool is not installed (Debian package 'libvips-tools')")
    t = lambda name: os.path.join(d, name)
    out = []
    vips("zone", t("zone.v"), 500, 380)
    vips("linear", t("zone.v"), t("zone2.v"), 110, 128)
    vips("sines", t("sines.v"), 640, 480, "--hfreq", 3, "--vfreq", 5)
    vips("linear", t("sines.v"), t("sines2.v"), 120, 120)
    vips("gaussnoise", t("noise.v"), 300, 300, "--sigma", 60, "--mean", 120)
    vips("bandjoin", f"{t('zone2.v')} {t('zone2.v')} {t('zone2.v')}", t("zone3.v"))
    vips("cast", t("zone3.v"), t("zone.jpg[Q=90]"), "uchar")
    out.append(t("zone.jpg"))
    vips("xyz", t("xyz.v"), 640, 480)
    vips("extract_band", t("xyz.v"), t("x.v"), 0)
    vips("bandjoin", f"{t('sines2.v')} {t('x.v')} {t('sines2.v')}", t("sx.v"))
    vips("cast", t("sx.v"), t("sines.jpg[Q=85]"), "uchar")
    out.append(t("sines.jpg"))
    vips("bandjoin", f"{t('noise.v')} {t('noise.v')} {t('noise.v')}", t("noise3.v"))
    vips("cast", t("noise3.v"), t("noise.jpg[Q=75]"), "uchar")
    out.append(t("noise.jpg"))
    vips("text", t("text.v"), "<b>Fluff</b> 621", "--dpi", 300, "--width", 800)
    vips("embed", t("text.v"), t("textb.v"), 40, 40, 900, 500)
    vips("linear", t("textb.v"), t("textc.v"), "0.9 0.5 0.1", "20 60 140")
    vips("cast", t("textc.v"), t("text.jpg"), "uchar")
    out.append(t("text.jpg"))
    vips("identity", t("id.v"))
    vips("resize", t("id.v"), t("grad.v"), 1.2, "--vscale", 800)
    vips("bandjoin", f"{t('grad.v')} {t('grad.v')} {t('grad.v')} {t('grad.v')}", t("grad4.v"))
    vips("copy", t("grad4.v"), t("grad.png"), "--interpretation", "srgb")
    out.append(t("grad.png"))
    vips("black", t("black.v"), 224, 224, "--bands", 3)
    vips("cast", t("black.v"), t("black.jpg"), "uchar")
    out.append(t("black.jpg"))
    return out


def fake_site_images(d, count=4):
    """Sample JPEGs served by the fake e621 site over HTTP on 127.0.0.1, as the
    daemon would download them; [] (with a note) where the site is absent."""
    try:
        from fakesite import FakeSite
    except ImportError:
        print("note: tests/fakesite.py is not in this tree; no fake-site pictures", flush=True)
        return []
    out = []
    with FakeSite(liked=count, disliked=count, others=count, rate_limit=0) as site:
        posts = site.request("GET", f"/posts.json?limit={4 * count}").json()["posts"]
        for p in posts:
            if not p["sample"].get("has") or not p["sample"].get("url"):
                continue
            r = site.request("GET", p["sample"]["url"], auth=False)
            if r.status != 200 or r.content_type != "image/jpeg":
                raise SystemExit(f"FAILED: fake site sample {p['sample']['url']}: {r.status} {r.content_type}")
            path = os.path.join(d, f"fake-{p['id']}.jpg")
            with open(path, "wb") as f:
                f.write(r.body)
            out.append(path)
            if len(out) == count:
                break
    return out
