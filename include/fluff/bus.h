/* SPDX-License-Identifier: MIT */
#pragma once

/* Names shared by fluffd and its clients. Versioned, so a later Fluff2 API can
 * live beside this one. */

#include <systemd/sd-bus.h>

/* The API fluffd serves (every method refuses callers of another uid with
 * Error.AccessDenied):
 *
 * /io/github/fluffml/Fluff1, io.github.fluffml.Fluff1.Manager
 *   Login(s username, s api_key, b remember)  answers once the site accepted the
 *       key: Error.AuthFailed (401), Error.Network (unreachable), Error.Busy
 *       (a login or sync in progress), Error.InvalidArgument (malformed name/key).
 *       remember: $XDG_CONFIG_HOME/fluff/credentials (0600); without it any saved
 *       login is deleted and the key lives in memory only.
 *   Logout(b forget)                          cancels a running sync; forget deletes the file.
 *   Sync(a{sv} options) -> o job              options: mode s ("full", the default:
 *       every list to its end, removed votes are seen; "incremental": each
 *       list newest first, stopping at the first page that reaches a post
 *       already known in it, nothing dropped; "auto": full when the last
 *       full sync is older than the config's full_sync_interval, else
 *       incremental), automatic b (the timer's refresh; recorded as its
 *       trigger). Unknown keys or modes: InvalidArgs.
 *       Error.NotLoggedIn, Error.Busy when a sync runs.
 *   Train(a{sv} options) -> o job             time_budget_s (u or t, 5…86400, default 300),
 *       seed (u or t), patience (u, epochs without a better validation AUC
 *       before stopping, 1…1000000; default 8), max_epochs (u, 1…1000000:
 *       each network trains at most that many epochs, a fixed amount of
 *       work; default no limit but time and patience), towers (s: "both" default,
 *       "tags" or "image" alone, an ablation on the same posts; "image"
 *       with neither a backbone nor crops: the job fails with Error.NoModel).
 *       Bad values: InvalidArgs quoting them. Error.Busy while a sync or
 *       another training runs. The job fails with Error.NotEnoughData under 20
 *       liked or disliked posts. Without a backbone: tags + a small CNN trained
 *       from scratch on the crops (tags only when fewer than 20 of a label have
 *       a crop); with one, posts without a cached embedding are left out and
 *       counted, and a budget of 90 s or more also fine-tunes the backbone's
 *       top layer with the head on augmented views (kept only when validation
 *       AUC rises). install (b, default false). Every finished run's
 *       model joins the history (models/history/<id>.safetensors); it is
 *       installed (models/taste.safetensors, one rename) unless its ROC AUC
 *       is below the installed model's by more than the config's
 *       model_install_margin (both on the posts labelled since the
 *       installed one was trained, or each model's own cross-validated one
 *       with fewer than 50 of those) or it is a towers ablation, then it is
 *       kept aside with the reason (install overrides both). The job's
 *       Message says which ("Installed as model 7. Weighed on the 62 posts
 *       ..." / "Kept aside as model 7 (...)").
 *       Cancel or a crash keeps the installed model and leaves no file.
 *   ListModels() -> a(tttsssstttdss) models   the history, newest first: id,
 *       created_usec, installed_usec (last installed, 0 never), state
 *       ("installed", "previous": installed before, "aside": never), trigger
 *       ("manual", "automatic", "before the history"), towers, backbone id
 *       ("" none), labels, liked, disliked (the dataset it was trained on),
 *       ROC AUC (NaN unknown), reason (why aside, ""), its ModelInfo JSON.
 *       The newest config model_keep models are kept, the installed one always.
 *   UseModel(t id)                            installs model id (e.g. a rollback);
 *       Error.NotFound when unknown; the model must load.
 *   RemoveModel(t id)                         deletes model id and its file;
 *       Error.Busy for the installed one, Error.NotFound when unknown.
 *   AutoRetrain(a{sv} options) -> o job, s reason
 *       what each refresh asks: a Train job (the config's retrain_budget,
 *       worker at nice 19 and the idle I/O class, trigger "automatic")
 *       starts when auto_retrain is on, at least retrain_changes labels or
 *       retrain_fraction of the installed model's dataset changed since it
 *       was trained (new, flipped or removed), no job runs, and UPower's
 *       OnBattery is not true (unless retrain_on_battery). Otherwise job is
 *       "/" and reason says why. No options yet.
 *   RefreshInfo() -> s info                   JSON: auto_sync, auto_retrain;
 *       sync {last_usec, mode, trigger, result, message, last_full_usec,
 *       next_full_usec, full_interval_s}; train {last_usec, trigger, result,
 *       message}; retrain {installed_model, changed, base, need_changes,
 *       need_fraction, due, interrupted (an automatic training never
 *       finished: a kill), budget_s, on_battery_too}; feedback {days (30),
 *       announced (watch posts and predicted likes shown in that time),
 *       liked, disliked, unanswered, precision (null before any vote)}.
 *   properties: ModelInfo s (model_describe_json of the loaded model, "" when
 *       none), HasModel b (both emit PropertiesChanged).
 *   Predict(s tags, u count, a{sv} options) -> o job
 *       tags: a site query (1…40 terms, ≤ 4096 bytes; InvalidArgs otherwise);
 *       count 1…320 (0: 20); options: include_animated b (default false).
 *       Error.NotLoggedIn, Error.NoModel (train first), Error.Busy while
 *       another prediction runs. The job searches newest first (page=b<id>,
 *       at most 10 pages of 320), leaves out posts already labelled or voted
 *       on, hidden by the user's blacklist, deleted, without a usable image
 *       and (by default) animated; deletes the previous manual run's crops
 *       ($XDG_CACHE_HOME/fluff/predictions/<md5>.jpg, nothing else there),
 *       crops the new ones, scores them and stores the run (only the latest
 *       manual run is kept; watch runs are left alone). Fewer posts than
 *       asked: done, its Message says so; none: fails with
 *       Error.NotEnoughData. It does not emit NewPredictions.
 *   GetPredictions(u run) -> t run, s tags, a(tdssss) predictions
 *       run 0: the latest manual run (Error.NotFound when none); a watch
 *       run's id also works while it is kept. Per post, by score descending: id, probability of a like
 *       (0…1), label "like" or "dislike" (by the model's threshold), the tags
 *       that pushed the score most ("tag +0.31, other -0.12"), crop path,
 *       post page URL. The tags are the strongest pushes up, then down.
 *   GetPredictions2(u run) -> t run, s tags, a(tdssssa{sv}) predictions
 *       version 2 of GetPredictions: the same rows, each with its explanation as a{sv}:
 *         logit d, bias d, image d, tags d   logit = bias + image + tags
 *             exactly (to float rounding): bias is the constant terms (with
 *             the hidden units' biases of the units this post switches on),
 *             image the picture's share (its features through the head),
 *             tags the sum of every known tag's push (head and tag tower);
 *         calibration s   "none" or "platt": score = σ(logit); "isotonic":
 *             score is a monotone map of logit (no logit of its own);
 *         tags_up a(sd), tags_down a(sd)   the (at most 3) tags that pushed
 *             most towards like / towards dislike, strongest first.
 *       A row scored before explanations has an empty a{sv}. New keys may
 *       be added; a client ignores keys it does not know.
 *   AddWatch(s tags, a{sv} options) -> t id   tags checked as for Predict;
 *       options: threshold d (0…1, default the model's like threshold, 0.5
 *       without a model), max_per_run u or t (1…320, default the config's
 *       watch_max_per_run, 10). InvalidArgs for bad values or unknown keys.
 *   RemoveWatch(t id)                         Error.NotFound when unknown. Its
 *       stored runs stay until pruned (a notification may still show them).
 *   ListWatches() -> a(tsdutt)                id, tags, threshold, max_per_run,
 *       last_seen_id (newest post id already looked at, 0 never run),
 *       last_run_usec (CLOCK_REALTIME, 0 never), by id.
 *   RunWatches(a{sv} options) -> o job        options: watch t (or u; only
 *       that one, Error.NotFound when unknown), include_animated b. Error.
 *       NotLoggedIn, Error.NoModel, Error.Busy while another RunWatches
 *       runs (a Predict may run beside it). Per watch: the posts newer than
 *       last_seen_id (a new watch: the newest 40 only, so it starts with
 *       what is there now, not the query's history; later at most 320 per
 *       run), filtered as Predict does and also leaving out posts another
 *       watch already announced, cropped into $XDG_CACHE_HOME/fluff/
 *       watches/<md5>.jpg, scored; those at or above the threshold, best
 *       first, at most max_per_run, are stored as a watch run together with
 *       the new last_seen_id in one transaction (a crash before it: the next
 *       run rescans them; after it: stored, found by GetPredictions), then
 *       announced. Watch runs are kept 30 days (at most 500 runs). Done:
 *       Message "2 watches, 3 new posts above threshold."; a failing watch
 *       does not stop the others, the job then fails naming it.
 *   signal NewPredictions(t watch_id, s tags, a(tdssss) predictions)
 *       emitted ONLY by RunWatches: one per watch that found at least one
 *       new post at or above its threshold; tags is the watch's query; rows
 *       as in GetPredictions, by score descending.
 *   signal NewPredictions2(t watch_id, s tags, a(tdssssa{sv}) predictions)
 *       sent just before each NewPredictions, the rows as in
 *       GetPredictions2. A client that knows it may ignore NewPredictions
 *       from a sender that sent NewPredictions2.
 *   properties: Version s, Site s (const); LoggedIn b, Username s, Jobs ao,
 *       Busy b, PostCount t, LikedCount t, DislikedCount t, ConflictCount t,
 *       ImageCount t, FailedCount t, MissingImageCount t, SkippedCount t (all
 *       emit PropertiesChanged).
 *   Vote(t post_id, i score)                  1 like, -1 dislike, 0 clear: the label
 *       at once, the site through the outbox. A like or dislike of a post in a
 *       kept prediction run (manual or watch) moves its crop into
 *       $XDG_DATA_HOME/fluff/images/<md5>.jpg (recorded ok, the runs' rows
 *       re-pointed at it, an Embed job started); a dataset image already
 *       there is kept. A clear moves nothing. A like or dislike of a post
 *       fluffd does not know fetches it first (GET /posts/<id>.json, once:
 *       it is stored) and replies when it is recorded; Error.NotFound when
 *       the site does not have it or deleted it.
 *   Review(u count) -> a(tdssss) predictions  count 1…1000 (0: 10). Posts of the
 *       kept prediction runs without any label, each once with its newest
 *       row, closest to the loaded model's threshold first (ties: higher
 *       score first); rows as in GetPredictions. Empty when there is nothing
 *       to review.
 *   Review2(u count) -> a(tdssssa{sv}) predictions   the same, rows as in
 *       GetPredictions2.
 *   ImportBackbone(s path) -> o job           imports the nsfwjs package (the
 *       tarball `npm pack nsfwjs@4.4.0` writes, or its unpacked folder) named
 *       by an absolute path (InvalidArgs otherwise; kept for older clients):
 *       converts it into the weight file and loads it; the previous weights
 *       stay on any failure (the job fails with Error.InvalidArgument and one
 *       sentence). fluffd opens the path without blocking and reads a
 *       regular file or a folder only. Cancel() stops the job soon, also
 *       while the package is decompressed; it then ends cancelled.
 *   ImportBackboneFd(h file) -> o job         the same for a package tarball
 *       the caller opened (added in Fluff 0.1 for issue 15, fluffctl uses
 *       it): no path the daemon must resolve in its own (private) /tmp, no
 *       FIFO to wait on. Anything but a regular file is Error.
 *       InvalidArgument at once; the file is read from its start with the
 *       package reader's limits (gzip or tar by its bytes, at most 1 GiB
 *       unpacked, 64 MiB per file kept, 64 KiB after the archive's end).
 *   ClassifyImage(s path) -> a(sd) classes    the backbone's five classes for an
 *       image file named by an absolute path (kept for older clients; fluffd
 *       opens it without blocking and reads a regular file only).
 *   ClassifyImageFd(h file) -> a(sd) classes  the same for a file the caller
 *       opened (added in Fluff 0.1 for issue 15, fluffctl uses it): no path
 *       the daemon must resolve in its own (private) /tmp. Anything but a
 *       regular file is Error.InvalidArgument at once; the file is read from
 *       its start with the limits of a downloaded image (magic bytes,
 *       max_image_bytes-like default, pixel count before decoding).
 *
 * /io/github/fluffml/Fluff1/job/N, io.github.fluffml.Fluff1.Job
 *   Cancel()                                  Error.InvalidArgument once finished.
 *   signal Finished(s state, s error_name, s error_message)
 *   properties: Id t, Kind s, CreatedUSec t (const); State s (queued, running,
 *       done, failed, cancelled), Done t, Total t (0: unknown), Phase s,
 *       Message s (what happens now; the summary once done), ErrorName s,
 *       Error s (when failed), FinishedUSec t. PropertiesChanged at most ~10/s.
 *   Finished jobs stay for 10 minutes (at most 16 of them). Jobs appear and
 *   vanish through org.freedesktop.DBus.ObjectManager at the root path. */

#define FLUFF_BUS_NAME "io.github.fluffml.Fluff1"
#define FLUFF_BUS_PATH "/io/github/fluffml/Fluff1"
#define FLUFF_BUS_MANAGER_IFACE FLUFF_BUS_NAME ".Manager"
#define FLUFF_BUS_JOB_IFACE FLUFF_BUS_NAME ".Job"
#define FLUFF_BUS_JOB_PREFIX FLUFF_BUS_PATH "/job"

#define FLUFF_ERROR_PREFIX FLUFF_BUS_NAME ".Error."
#define FLUFF_ERROR_AUTH_FAILED FLUFF_ERROR_PREFIX "AuthFailed"
#define FLUFF_ERROR_NOT_LOGGED_IN FLUFF_ERROR_PREFIX "NotLoggedIn"
#define FLUFF_ERROR_NETWORK FLUFF_ERROR_PREFIX "Network"
#define FLUFF_ERROR_RATE_LIMITED FLUFF_ERROR_PREFIX "RateLimited"
#define FLUFF_ERROR_SITE FLUFF_ERROR_PREFIX "Site"
#define FLUFF_ERROR_NO_MODEL FLUFF_ERROR_PREFIX "NoModel"
#define FLUFF_ERROR_NO_VULKAN FLUFF_ERROR_PREFIX "NoVulkan"
#define FLUFF_ERROR_BUSY FLUFF_ERROR_PREFIX "Busy"
#define FLUFF_ERROR_INVALID_ARGUMENT FLUFF_ERROR_PREFIX "InvalidArgument"
#define FLUFF_ERROR_NOT_FOUND FLUFF_ERROR_PREFIX "NotFound"
#define FLUFF_ERROR_CANCELLED FLUFF_ERROR_PREFIX "Cancelled"
#define FLUFF_ERROR_NO_SPACE FLUFF_ERROR_PREFIX "NoSpace"
#define FLUFF_ERROR_NOT_ENOUGH_DATA FLUFF_ERROR_PREFIX "NotEnoughData"
#define FLUFF_ERROR_ACCESS_DENIED FLUFF_ERROR_PREFIX "AccessDenied"

/* The one table of named errors and their errno, used by fluffd to answer and by
 * the clients to understand. Each errno maps to exactly one name. */
extern const sd_bus_error_map fluff_bus_error_map[];

/* The error name for a negative errno, or NULL when it has no Fluff name. */
const char *fluff_bus_error_name(int error);

/* Like sd_bus_error_setf(), but the name comes from the errno through the table
 * above (sd-bus's own names for errnos it does not know). Returns -abs(error). */
int fluff_bus_error_set_errnof(sd_bus_error *e, int error, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Registers the table with sd-bus so sd_bus_error_get_errno() knows our names. */
int fluff_bus_error_register(void);
