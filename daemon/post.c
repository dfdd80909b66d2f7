/* SPDX-License-Identifier: MIT */
#include "post.h"

Post *post_free(Post *p)
{
        if (!p)
                return NULL;
        free(p->md5);
        free(p->ext);
        free(p->file_url);
        free(p->sample_url);
        free(p->preview_url);
        for (size_t i = 0; i < p->n_tags; i++) {
                free(p->tags[i].name);
                free(p->tags[i].category);
        }
        free(p->tags);
        free(p);
        return NULL;
}

void post_array_free(Post **posts, size_t n)
{
        for (size_t i = 0; i < n; i++)
                post_free(posts[i]);
        free(posts);
}

int post_add_tag(Post *p, const char *name, const char *category)
{
        PostTag *t = realloc(p->tags, sizeof(PostTag) * (p->n_tags + 1));
        if (!t)
                return -ENOMEM;
        p->tags = t;
        char *n = strdup(name), *c = strdup(category);
        if (!n || !c) {
                free(n);
                free(c);
                return -ENOMEM;
        }
        p->tags[p->n_tags++] = (PostTag){ .name = n, .category = c };
        return 0;
}

bool post_has_tag(const Post *p, const char *name)
{
        for (size_t i = 0; i < p->n_tags; i++)
                if (streq(p->tags[i].name, name))
                        return true;
        return false;
}

bool post_is_animated(const Post *p)
{
        static const char *const moving[] = { "webm", "mp4", "swf", "gif", "apng" };

        if (p->ext)
                for (size_t i = 0; i < ELEMENTSOF(moving); i++)
                        if (streq(p->ext, moving[i]))
                                /* a still GIF exists, but the site tags moving ones "animated" */
                                return !streq(p->ext, "gif") || post_has_tag(p, "animated");
        return post_has_tag(p, "animated");
}

const char *post_image_url(const Post *p)
{
        if (p->deleted || !p->file_url)
                return NULL;
        if (p->sample_url)
                return p->sample_url;
        if (p->ext && (streq(p->ext, "jpg") || streq(p->ext, "png") || streq(p->ext, "gif")))
                return p->file_url;
        return NULL;
}
