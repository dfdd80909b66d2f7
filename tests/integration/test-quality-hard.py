#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Quality on the hard world (fake site --world hard), measured as issue 13
asks: with the image backbone, `train` cross-validates the model and a
tags-only L2 logistic regression (the baseline) on the same folds, and the
installed model ranks unseen posts against the site's hidden truth beside
the same baseline fitted here, in Python, on the same history (tags seen at
least twice, λ by 5-fold CV).

Fails when the installed model is worse than the baseline — pooled CV (the
model's out-of-fold ROC AUC below the baseline's on the same folds) or on
the unseen posts by more than the noise of 900 posts allows (0.02) — or when
its out-of-fold calibration error (ECE) is above 0.05. Every number is
printed with the baseline's beside it. Issue 13's bars (model ≥ baseline +
0.05 on unseen posts with the backbone, image tower alone ≥ 0.65, tags +
image above either alone) are printed as measured, not asserted here: see
the issue's note. Skipped (77) without the backbone package, like the other
backbone tests. Environment: FLUFF_HARD_SEED (5), FLUFF_HARD_TIME (120s)."""
import math
import os
import random
import sys
import time
import unittest
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "backbone"))
import bbtest  # noqa: E402
from fakesite import FakeSite, roc_auc  # noqa: E402
from fluffd import Fluffd, fresh_state, site_cache_dir  # noqa: E402

SEED = int(os.environ.get("FLUFF_HARD_SEED", "5"))
BUDGET = os.environ.get("FLUFF_HARD_TIME", "120s")
LIKED, DISLIKED, OTHERS = 650, 410, 1100
PER_QUERY = 300  # posts per predict call (its limit is 320)
UNSEEN_TOLERANCE = 0.02
ECE_BAR = 0.05


def logreg(rows, y, lam, iters=400):
    """L2 logistic regression on binary features by gradient descent with
    Nesterov momentum (the same objective as daemon/model/logreg.c)."""
    nf = 1 + max((max(r) for r in rows if r), default=0)
    w, v, prev = [0.0] * nf, [0.0] * nf, [0.0] * nf
    pos = sum(y)
    b = vb = math.log(pos / (len(y) - pos))
    curv = 1 + max(len(r) for r in rows)
    step = 1.0 / (0.25 * curv + lam)
    t = 1.0
    n = len(rows)
    for _ in range(iters):
        g = [0.0] * nf
        gb = 0.0
        for r, target in zip(rows, y):
            z = vb + sum(v[i] for i in r)
            e = 1 / (1 + math.exp(-z)) - target if z > -30 else -target
            gb += e
            for i in r:
                g[i] += e
        prev = w
        w = [v[i] - step * (g[i] / n + lam * v[i]) for i in range(nf)]
        pb, b = b, vb - step * gb / n
        tn = (1 + math.sqrt(1 + 4 * t * t)) / 2
        mom = (t - 1) / tn
        v = [w[i] + mom * (w[i] - prev[i]) for i in range(nf)]
        vb = b + mom * (b - pb)
        t = tn
    return w, b


def baseline_scores(history, unseen):
    """The tags-only baseline: tags seen ≥ 2 times in the history, λ by the
    5-fold out-of-fold log loss, fitted on the whole history."""
    count = Counter(t for tags, _ in history for t in tags)
    vocab = {t: i for i, t in enumerate(sorted(t for t, c in count.items() if c >= 2))}
    rows = [[vocab[t] for t in tags if t in vocab] for tags, _ in history]
    y = [label for _, label in history]
    rng = random.Random(1)
    fold = [rng.randrange(5) for _ in rows]
    best = None
    for lam in (0.1, 0.03, 0.01, 0.003):
        loss = 0.0
        for f in range(5):
            tr = [i for i in range(len(rows)) if fold[i] != f]
            w, b = logreg([rows[i] for i in tr], [y[i] for i in tr], lam)
            for i in range(len(rows)):
                if fold[i] == f:
                    p = 1 / (1 + math.exp(-(b + sum(w[j] for j in rows[i] if j < len(w)))))
                    p = min(max(p, 1e-7), 1 - 1e-7)
                    loss -= math.log(p) if y[i] else math.log(1 - p)
        if best is None or loss < best[0] - 1e-9:
            best = (loss, lam)
    w, b = logreg(rows, y, best[1])
    out = []
    for tags in unseen:
        out.append(b + sum(w[vocab[t]] for t in tags if t in vocab and vocab[t] < len(w)))
    return out, best[1], len(vocab)


class HardWorldQuality(unittest.TestCase):
    def wait_jobs_idle(self, d, timeout=1800):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            jobs = d.ctl("jobs", "--json").json()
            if all(j["state"] not in ("queued", "running") for j in jobs):
                return
            time.sleep(1)
        self.fail(f"jobs still running after {timeout}s\n{d.log()[-3000:]}")

    def train(self, d, towers=None):
        # an ablation is installed only when asked, and its unseen posts need it installed
        args = ["train", "--json", "--time", BUDGET] + (["--towers", towers, "--install"] if towers else [])
        t = time.monotonic()
        r = d.ctl(*args, timeout=3600)
        self.assertEqual(r.returncode, 0, f"{r!r}\n{d.log()[-3000:]}")
        info = r.json()
        q = info.get("quality")
        self.assertIsNotNone(q, f"the model carries no cross-validated quality: {info}")
        m, bl = q["cv"]["model"], q["cv"]["baseline"]
        print(f"hard world seed {SEED}: train --time {BUDGET} towers={towers or 'both'} "
              f"({time.monotonic() - t:.0f}s): {q['combination']}, pooled {q['folds']}-fold CV over "
              f"{q['n']} posts: ROC AUC {m['roc_auc']:.3f} {m['roc_auc_ci']} (baseline {bl['roc_auc']:.3f} "
              f"{bl['roc_auc_ci']}), PR AUC {m['pr_auc']:.3f} (baseline {bl['pr_auc']:.3f}), "
              f"Brier {m['brier']:.3f} (baseline {bl['brier']:.3f}), ECE {m['ece']:.3f} "
              f"({q['calibration']['method']}); towers {q['cv']['towers']}; newest 20 %: "
              f"{q.get('time', {}).get('model', {}).get('roc_auc')} (baseline "
              f"{q.get('time', {}).get('baseline', {}).get('roc_auc')})", file=sys.stderr)
        return info

    def unseen_queries(self, site):
        """Searches that together cover every post outside the history, at
        most PER_QUERY each (a rating and an id range): issue 13's three
        `hi_res rating:…` searches found only ~200 of this world's 1,100
        unseen posts (hi_res is on a quarter of them), too few for an AUC
        that tells 0.05 apart."""
        me = site.user_state()
        seen = set(me["favorites"]) | set(me["upvotes"]) | set(me["downvotes"])
        queries, posts = [], self.all_posts(site)
        for rating in "sqe":
            ids = sorted(p["id"] for p in posts if p["rating"] == rating and p["id"] not in seen)
            for a in range(0, len(ids), PER_QUERY):
                chunk = ids[a:a + PER_QUERY]
                queries.append(f"rating:{rating} id:{chunk[0]}..{chunk[-1]}")
        return queries

    def predict_unseen(self, d, site):
        truth = site.truth()["posts"]
        rows = {}
        for query in self.unseen_queries(site):
            r = d.ctl("predict", "--count", str(PER_QUERY), "--json", "--", query, timeout=3600)
            self.assertEqual(r.returncode, 0, f"{r!r}\n{d.log()[-3000:]}")
            for x in r.json():
                rows[x["id"]] = x["score"]
        ids = sorted(rows)
        me = site.user_state()
        seen = set(me["favorites"]) | set(me["upvotes"]) | set(me["downvotes"])
        self.assertFalse(seen & set(ids), "a history post among the predictions")
        return ids, [rows[i] for i in ids], [truth[str(i)]["like"] for i in ids]

    def test_hard_world(self):
        tgz = bbtest.fetch_package()
        fresh_state()
        with FakeSite(world="hard", seed=SEED, liked=LIKED, disliked=DISLIKED, both=0, others=OTHERS,
                      rate_limit=0, pregenerate=2, data_dir=site_cache_dir(f"hard-{SEED}")) as site, \
                Fluffd(site=site.url, config={"rate_limit": 2, "image_size": 224}) as d:
            self.assertEqual(d.login(site.user, site.api_key).returncode, 0)
            self.assertEqual(d.ctl("backbone", "import", tgz).returncode, 0)
            t = time.monotonic()
            self.assertEqual(d.ctl("sync", timeout=3600).returncode, 0)
            self.wait_jobs_idle(d)
            print(f"hard world seed {SEED}: sync + embed: {time.monotonic() - t:.0f}s", file=sys.stderr)

            both = self.train(d)
            q = both["quality"]
            self.assertGreaterEqual(q["cv"]["model"]["roc_auc"], q["cv"]["baseline"]["roc_auc"],
                                    "the model is worse than the tags-only baseline on the same folds")
            self.assertLessEqual(q["cv"]["model"]["ece"], ECE_BAR)
            self.assertEqual(both["threshold"], 0.5)

            t = time.monotonic()
            ids, scores, labels = self.predict_unseen(d, site)
            posts = {p["id"]: p for p in self.all_posts(site)}
            me = site.user_state()
            liked = set(me["favorites"]) | set(me["upvotes"])
            history = [(self.tags_of(posts[i]), 1 if i in liked else 0)
                       for i in sorted(liked | set(me["downvotes"])) if i in posts]
            base, lam, n_tags = baseline_scores(history, [self.tags_of(posts[i]) for i in ids])
            auc_model = roc_auc(scores, labels)
            auc_base = roc_auc(base, labels)
            print(f"hard world seed {SEED}: {len(ids)} unseen posts ({sum(labels)} liked by the truth, "
                  f"{time.monotonic() - t:.0f}s): ROC AUC against the truth: model {auc_model:.3f}, "
                  f"baseline {auc_base:.3f} (λ {lam}, {n_tags} tags); issue 13's bar is the baseline + 0.05 = "
                  f"{auc_base + 0.05:.3f}", file=sys.stderr)
            self.assertGreaterEqual(auc_model, auc_base - UNSEEN_TOLERANCE,
                                    "the installed model ranks unseen posts below the tags-only baseline")

            if os.environ.get("FLUFF_HARD_ABLATIONS"):
                for towers in ("image", "tags"):
                    self.train(d, towers)
                    _, s, lab = self.predict_unseen(d, site)
                    print(f"hard world seed {SEED}: towers={towers}: unseen ROC AUC {roc_auc(s, lab):.3f} "
                          f"(baseline {auc_base:.3f})", file=sys.stderr)

    @staticmethod
    def tags_of(post):
        return [t for cat in post["tags"].values() for t in cat]

    @staticmethod
    def all_posts(site):
        out, page = [], 1
        while True:
            r = site.request("GET", f"/posts.json?tags=status:any&limit=320&page={page}").json()["posts"]
            out += r
            if len(r) < 320:
                return out
            page += 1


if __name__ == "__main__":
    unittest.main(verbosity=2)
