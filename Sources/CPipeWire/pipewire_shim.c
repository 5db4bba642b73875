// See CPipeWire.h: only the parts of libpipewire that are macros or C
// callback tables live here.
#include "CPipeWire.h"
#include "pipewire_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <spa/param/video/format-utils.h>
#include <spa/param/buffers.h>
#include <spa/pod/builder.h>

int porthole_pw_loop_fd(struct pw_loop *loop) { return pw_loop_get_fd(loop); }
void porthole_pw_loop_enter(struct pw_loop *loop) { pw_loop_enter(loop); }
void porthole_pw_loop_leave(struct pw_loop *loop) { pw_loop_leave(loop); }
int porthole_pw_loop_iterate(struct pw_loop *loop, int timeout_ms) { return pw_loop_iterate(loop, timeout_ms); }

// --- core -------------------------------------------------------------------

struct porthole_pw_core_watch {
    struct pw_core *core;
    struct spa_hook hook;
    porthole_pw_core_error_fn on_error;
    void *user;
};

static void core_error(void *data, uint32_t id, int seq, int res, const char *message) {
    (void)seq;
    struct porthole_pw_core_watch *w = data;
    w->on_error(w->user, id, res, message);
}

static const struct pw_core_events core_events = {
    .version = PW_VERSION_CORE_EVENTS,
    .error = core_error,
};

struct porthole_pw_core_watch *porthole_pw_core_watch(struct pw_core *core, porthole_pw_core_error_fn on_error, void *user) {
    struct porthole_pw_core_watch *w = calloc(1, sizeof(*w));
    if (!w) return NULL;
    w->core = core;
    w->on_error = on_error;
    w->user = user;
    pw_core_add_listener(core, &w->hook, &core_events, w);
    return w;
}

void porthole_pw_core_unwatch(struct porthole_pw_core_watch *w) {
    if (!w) return;
    spa_hook_remove(&w->hook);
    free(w);
}

// --- source stream ------------------------------------------------------------

struct porthole_pw_source {
    struct pw_stream *stream;
    struct spa_hook hook;
    struct porthole_pw_source_events events;
    void *user;
    bool connected;
    int32_t stride;
    uint32_t max_damage;
};

static void source_state_changed(void *data, enum pw_stream_state old, enum pw_stream_state state, const char *error) {
    (void)old;
    struct porthole_pw_source *s = data;
    if (s->events.state_changed) s->events.state_changed(s->user, (int)state, error);
}

// A consumer fixed the format: ask for buffers that hold it, rows of the
// stride the bridge writes, in memfds the daemon allocates and maps for us,
// with a header (sequence, pts) and damage regions.
static void source_param_changed(void *data, uint32_t id, const struct spa_pod *param) {
    struct porthole_pw_source *s = data;
    if (id != SPA_PARAM_Format) return;
    if (param == NULL) {
        if (s->events.format_changed) s->events.format_changed(s->user, 0, 0, 0, 0);
        return;
    }
    struct spa_video_info_raw info;
    memset(&info, 0, sizeof(info));
    if (spa_format_video_raw_parse(param, &info) < 0) {
        pw_stream_set_error(s->stream, -EINVAL, "unparsable video format");
        return;
    }
    int32_t stride = s->stride;
    if (stride < (int32_t)info.size.width * 4) stride = (int32_t)info.size.width * 4;
    uint8_t storage[1024];
    struct spa_pod_builder b = SPA_POD_BUILDER_INIT(storage, sizeof(storage));
    const struct spa_pod *params[3];
    uint32_t damage = s->max_damage > 0 ? s->max_damage : 1;
    params[0] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers,
        SPA_PARAM_BUFFERS_buffers, SPA_POD_CHOICE_RANGE_Int(4, 2, 16),
        SPA_PARAM_BUFFERS_blocks, SPA_POD_Int(1),
        SPA_PARAM_BUFFERS_size, SPA_POD_Int(stride * (int32_t)info.size.height),
        SPA_PARAM_BUFFERS_stride, SPA_POD_Int(stride),
        SPA_PARAM_BUFFERS_dataType, SPA_POD_CHOICE_FLAGS_Int(1 << SPA_DATA_MemFd));
    params[1] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta,
        SPA_PARAM_META_type, SPA_POD_Id(SPA_META_Header),
        SPA_PARAM_META_size, SPA_POD_Int(sizeof(struct spa_meta_header)));
    params[2] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta,
        SPA_PARAM_META_type, SPA_POD_Id(SPA_META_VideoDamage),
        SPA_PARAM_META_size, SPA_POD_CHOICE_RANGE_Int(sizeof(struct spa_meta_region) * damage,
                                                      sizeof(struct spa_meta_region),
                                                      sizeof(struct spa_meta_region) * damage));
    pw_stream_update_params(s->stream, params, 3);
    if (s->events.format_changed)
        s->events.format_changed(s->user, info.format, info.size.width, info.size.height, stride);
}

static const struct pw_stream_events source_events = {
    .version = PW_VERSION_STREAM_EVENTS,
    .state_changed = source_state_changed,
    .param_changed = source_param_changed,
};

struct porthole_pw_source *porthole_pw_source_new(struct pw_core *core, const char *name,
                                                  const char *const *keys, const char *const *values, uint32_t n_props,
                                                  const struct porthole_pw_source_events *events, void *user) {
    struct porthole_pw_source *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->events = *events;
    s->user = user;
    if (!porthole_pw_stream_open(&s->stream, &s->hook, core, name, keys, values, n_props, &source_events, s)) {
        free(s);
        return NULL;
    }
    return s;
}

int porthole_pw_source_offer(struct porthole_pw_source *s, uint32_t spa_format, uint32_t width, uint32_t height,
                             int32_t stride, uint32_t max_damage) {
    s->stride = stride;
    s->max_damage = max_damage;
    uint8_t storage[1024];
    struct spa_pod_builder b = SPA_POD_BUILDER_INIT(storage, sizeof(storage));
    // Frames come when the guest presents them: a variable rate (0/1).
    const struct spa_pod *format = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat,
        SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
        SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
        SPA_FORMAT_VIDEO_format, SPA_POD_Id(spa_format),
        SPA_FORMAT_VIDEO_size, SPA_POD_Rectangle(&SPA_RECTANGLE(width, height)),
        SPA_FORMAT_VIDEO_framerate, SPA_POD_Fraction(&SPA_FRACTION(0, 1)),
        SPA_FORMAT_VIDEO_maxFramerate, SPA_POD_CHOICE_RANGE_Fraction(&SPA_FRACTION(60, 1), &SPA_FRACTION(1, 1),
                                                                     &SPA_FRACTION(1000, 1)));
    if (!format) return -ENOSPC;
    if (s->connected) return pw_stream_update_params(s->stream, &format, 1);
    int r = pw_stream_connect(s->stream, PW_DIRECTION_OUTPUT, PW_ID_ANY,
                              PW_STREAM_FLAG_DRIVER | PW_STREAM_FLAG_MAP_BUFFERS, &format, 1);
    if (r >= 0) s->connected = true;
    return r;
}

struct pw_stream *porthole_pw_source_stream(struct porthole_pw_source *s) { return s->stream; }

void porthole_pw_source_destroy(struct porthole_pw_source *s) {
    if (!s) return;
    spa_hook_remove(&s->hook);
    pw_stream_destroy(s->stream);
    free(s);
}

struct spa_meta_header *porthole_pw_buffer_header(struct spa_buffer *buffer) {
    return spa_buffer_find_meta_data(buffer, SPA_META_Header, sizeof(struct spa_meta_header));
}

struct spa_meta_region *porthole_pw_buffer_damage(struct spa_buffer *buffer, uint32_t *capacity) {
    struct spa_meta *m = spa_buffer_find_meta(buffer, SPA_META_VideoDamage);
    if (!m || m->size < sizeof(struct spa_meta_region)) {
        *capacity = 0;
        return NULL;
    }
    *capacity = m->size / sizeof(struct spa_meta_region);
    return m->data;
}
