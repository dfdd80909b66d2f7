# SPDX-License-Identifier: MIT
"""Posts and users as the site's JSON shows them to a given viewer."""
from images import image_path
from world import iso_created


def post_json(site, p, viewer):
    w = site.world
    visible = not p.deleted and not (p.login_only and viewer is None) \
        and not (site.e926 and p.rating != "s")

    override = w.overrides.get(p.id, {})

    def url(kind):
        if not visible:
            return None
        return override.get("url") or site.base_url + image_path(kind, p)

    sw, sh = p.sample_size()
    pw, ph = p.preview_size()
    up, down = w.score_of(p)
    out = {
        "id": p.id,
        "created_at": iso_created(p),
        "updated_at": iso_created(p),
        "file": {"width": p.width, "height": p.height, "ext": p.ext,
                 "size": p.size, "md5": p.md5, "url": url("original")},
        "preview": {"width": pw, "height": ph, "url": url("preview")},
        "sample": {"has": p.has_sample, "height": sh, "width": sw,
                   "url": url("sample") if p.has_sample else url("original"),
                   "alternates": {}},
        "score": {"up": up, "down": down, "total": up + down},
        "tags": {c: list(v) + list(override.get("tags", {}).get(c, []))
                 for c, v in p.tags.items()},
        "locked_tags": [],
        "change_seq": p.id * 3 + 17,
        "flags": {"pending": p.pending, "flagged": p.flagged,
                  "note_locked": False, "status_locked": False,
                  "rating_locked": False, "deleted": p.deleted},
        "rating": p.rating,
        "fav_count": w.fav_count(p),
        "sources": [],
        "pools": [],
        "relationships": {"parent_id": None, "has_children": False,
                          "has_active_children": False, "children": []},
        "approver_id": None if p.pending else 7,
        "uploader_id": p.uploader_id,
        "description": "",
        "comment_count": (p.id * 7) % 13,
        "is_favorited": bool(viewer and p.id in viewer.favorites),
        "has_notes": False,
        "duration": 4.2 if p.ext == "webm" else None,
    }
    if viewer is not None:
        out["vote"] = viewer.votes.get(p.id, 0)
    return out


def user_json(site, u, viewer):
    out = {
        "id": u.id,
        "name": u.name,
        "created_at": u.created_at,
        "level": 20,
        "level_string": "Member",
        "base_upload_limit": 10,
        "post_upload_count": 0,
        "post_update_count": 3,
        "note_update_count": 0,
        "is_banned": False,
        "can_approve_posts": False,
        "can_upload_free": False,
        "avatar_id": None,
        "favorite_count": len(u.favorites),
        "artist_version_count": 0,
        "comment_count": 0,
        "forum_post_count": 0,
        "wiki_page_version_count": 0,
        "pool_version_count": 0,
        "flag_count": 0,
        "positive_feedback_count": 0,
        "neutral_feedback_count": 0,
        "negative_feedback_count": 0,
    }
    if viewer is u:
        out.update({
            "blacklisted_tags": u.blacklist,
            "blacklist_users": False,
            "per_page": 75,
            "favorite_tags": "",
            "email": f"{u.name}@example.invalid",
            "api_regen_multiplier": 1,
            "api_burst_limit": 60,
            "remaining_api_limit": 60,
            "statement_timeout": 3000,
            "favorite_limit": 80000,
            "tag_query_limit": 40,
        })
    return out
