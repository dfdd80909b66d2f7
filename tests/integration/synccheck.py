# SPDX-License-Identifier: MIT
"""Checks of a finished sync against the fake site's truth, shared by the
sync integration tests."""
import os

from fluffd import data_dir, db_integrity, db_query, jpeg_size, label_sets


def expected_labels(site):
    u = site.user_state()
    return {"favourite": set(u["favorites"]), "upvote": set(u["upvotes"]),
            "downvote": set(u["downvotes"])}


def check_labels(test, site):
    """Every label source equals the site's list; the counts follow from them."""
    want = expected_labels(site)
    got = label_sets()
    for source in ("favourite", "upvote", "downvote"):
        missing = want[source] - got[source]
        extra = got[source] - want[source]
        test.assertFalse(missing or extra,
                         f"{source}: {len(missing)} missing {sorted(missing)[:5]}, "
                         f"{len(extra)} extra {sorted(extra)[:5]}")
    deleted = set(site.user_state().get("deleted", []))
    skipped_deleted = {r[0] for r in db_query("SELECT post_id FROM skipped WHERE reason = 'deleted'")}
    test.assertEqual(deleted - skipped_deleted, set(), "deleted posts not skipped as deleted")
    likes = want["favourite"] | want["upvote"]
    dislikes = want["downvote"]
    skipped = {r[0] for r in db_query("SELECT post_id FROM skipped")}
    conflicts = likes & dislikes
    return {
        "liked": len(likes - dislikes - skipped),
        "disliked": len(dislikes - likes - skipped),
        "conflicts": len(conflicts),
        "skipped": len((likes | dislikes) & skipped),
    }


def check_status_counts(test, status, expected):
    c = status["counts"]
    test.assertEqual(c["liked"], expected["liked"], c)
    test.assertEqual(c["disliked"], expected["disliked"], c)
    test.assertEqual(c["conflicts"], expected["conflicts"], c)


def check_images(test, image_size):
    """Every crop recorded ok is on disk, a square JPEG of image_size; no
    partial file is left; returns the number of crops."""
    folder = os.path.join(data_dir(), "images")
    names = sorted(os.listdir(folder))
    partial = [n for n in names if not (len(n) == 36 and n.endswith(".jpg"))]
    test.assertEqual(partial, [], "partial or foreign files under images/")
    ok = {r[0] for r in db_query("SELECT md5 FROM images WHERE state = 'ok'")}
    on_disk = {n[:-4] for n in names}
    test.assertEqual(ok - on_disk, set(), "recorded crops missing on disk")
    for n in names:
        size = jpeg_size(os.path.join(folder, n))
        test.assertEqual(size, (image_size, image_size), n)
    return len(names)


def check_integrity(test):
    test.assertEqual(db_integrity(), "ok")


def images_served(site):
    st = site.stats()
    return sum(n for url, n in st["images_served"].items())


def check_site_manners(test, site, api_key):
    st = site.stats()
    test.assertLessEqual(st["max_api_per_second"], 2, st)
    test.assertEqual(st["key_in_url"], [], "a URL carried the key")
    for ua in st["user_agents"]:
        test.assertIn("fluff", ua.lower())
        test.assertNotIn(api_key, ua)
