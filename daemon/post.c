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
        for (size_t i = 0; !p->packed && i < p->n_tags; i++) {
                free(p->tags[i].name);
                free(p->tags[i].category);
        }
        free(p->tags);
        free(p);
        return NULL;
}

/* The index of the first tag before i with i's category, or i. */
static size_t first_with_category(const Post *p, size_t i)
{
        for (size_t j = 0; j < i; j++)
                if (streq(p->tags[j].category, p->tags[i].category))
                        return j;
        return i;
}

int post_pack(Post *p)
{
        size_t bytes = p->n_tags * sizeof(PostTag);

        if (p->packed)
                return 0;
        for (size_t i = 0; i < p->n_tags; i++) {
                bytes += strlen(p->tags[i].name) + 1;
                if (first_with_category(p, i) == i)
                        bytes += strlen(p->tags[i].category) + 1;
        }
        PostTag *t = malloc(MAX(bytes, (size_t)1));
        if (!t)
                return -ENOMEM;
        char *s = (char *)(t + p->n_tags);
        for (size_t i = 0; i < p->n_tags; i++) {
                size_t j = first_with_category(p, i);
                t[i].name = s;
                s = stpcpy(s, p->tags[i].name) + 1;
                if (j < i)
                        t[i].category = t[j].category;
                else {
                        t[i].category = s;
                        s = stpcpy(s, p->tags[i].category) + 1;
                }
        }
        for (size_t i = 0; i < p->n_tags; i++) {
                free(p->tags[i].name);
                free(p->tags[i].category);
        }
        free(p->tags);
        p->tags = t;
        p->packed = true;
        free(p->file_url);
        free(p->sample_url);
        free(p->preview_url);
        p->file_url = p->sample_url = p->preview_url = NULL;
        return 0;
}

void post_array_free(Post **posts, size_t n)
{
        for (size_t i = 0; i < n; i++)
                post_free(posts[i]);
        free(posts);
}

int post_add_tag(Post *p, const char *name, const char *category)
{
        if (p->packed)
                return -EPERM;
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
