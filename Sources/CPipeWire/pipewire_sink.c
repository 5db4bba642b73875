// The input stream of `porthole pipewire import` (see CPipeWire.h): the
// format offer and buffer parameters are SPA pod builder macros, and the
// events a C callback table, so they live here.
#include "CPipeWire.h"
#include "pipewire_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <spa/param/video/format-utils.h>
#include <spa/param/buffers.h>
#include <spa/pod/builder.h>

struct porthole_pw_sink {
    struct pw_stream *stream;
    struct spa_hook hook;
    struct porthole_pw_sink_events events;
    void *user;
};

static void sink_state_changed(void *data, enum pw_stream_state old, enum pw_stream_state state, const char *error) {
    (void)old;
    struct porthole_pw_sink *s = data;
    if (s->events.state_changed) s->events.state_changed(s->user, (int)state, error);
}

// A source fixed the format: ask for buffers the daemon maps for us (memfd
// or plain memory, never dma-buf: the frames are copied out on the CPU).
static void sink_param_changed(void *data, uint32_t id, const struct spa_pod *param) {
    struct porthole_pw_sink *s = data;
    if (id != SPA_PARAM_Format) return;
    if (param == NULL) {
        if (s->events.format_changed) s->events.format_changed(s->user, 0, 0, 0);
        return;
    }
    struct spa_video_info_raw info;
    memset(&info, 0, sizeof(info));
    if (spa_format_video_raw_parse(param, &info) < 0) {
        pw_stream_set_error(s->stream, -EINVAL, "unparsable video format");
        return;
    }
    uint8_t storage[512];
    struct spa_pod_builder b = SPA_POD_BUILDER_INIT(storage, sizeof(storage));
    const struct spa_pod *params[1];
    params[0] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers,
        SPA_PARAM_BUFFERS_buffers, SPA_POD_CHOICE_RANGE_Int(4, 2, 16),
        SPA_PARAM_BUFFERS_blocks, SPA_POD_Int(1),
        SPA_PARAM_BUFFERS_dataType, SPA_POD_CHOICE_FLAGS_Int((1 << SPA_DATA_MemFd) | (1 << SPA_DATA_MemPtr)));
    pw_stream_update_params(s->stream, params, 1);
    if (s->events.format_changed) s->events.format_changed(s->user, info.format, info.size.width, info.size.height);
}

static void sink_process(void *data) {
    struct porthole_pw_sink *s = data;
    if (s->events.process) s->events.process(s->user);
}

static const struct pw_stream_events sink_events = {
    .version = PW_VERSION_STREAM_EVENTS,
    .state_changed = sink_state_changed,
    .param_changed = sink_param_changed,
    .process = sink_process,
};

struct porthole_pw_sink *porthole_pw_sink_new(struct pw_core *core, const char *name,
                                              const char *const *keys, const char *const *values, uint32_t n_props,
                                              const struct porthole_pw_sink_events *events, void *user) {
    struct porthole_pw_sink *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->events = *events;
    s->user = user;
    if (!porthole_pw_stream_open(&s->stream, &s->hook, core, name, keys, values, n_props, &sink_events, s)) {
        free(s);
        return NULL;
    }
    return s;
}

int porthole_pw_sink_connect(struct porthole_pw_sink *s, uint32_t max_side) {
    uint8_t storage[1024];
    struct spa_pod_builder b = SPA_POD_BUILDER_INIT(storage, sizeof(storage));
    const struct spa_pod *format = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat,
        SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
        SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
        SPA_FORMAT_VIDEO_format, SPA_POD_CHOICE_ENUM_Id(5, SPA_VIDEO_FORMAT_BGRx, SPA_VIDEO_FORMAT_BGRx,
                                                        SPA_VIDEO_FORMAT_BGRA, SPA_VIDEO_FORMAT_RGBx, SPA_VIDEO_FORMAT_RGBA),
        SPA_FORMAT_VIDEO_size, SPA_POD_CHOICE_RANGE_Rectangle(&SPA_RECTANGLE(640, 480), &SPA_RECTANGLE(1, 1),
                                                              &SPA_RECTANGLE(max_side, max_side)),
        SPA_FORMAT_VIDEO_framerate, SPA_POD_CHOICE_RANGE_Fraction(&SPA_FRACTION(30, 1), &SPA_FRACTION(0, 1),
                                                                  &SPA_FRACTION(1000, 1)));
    if (!format) return -ENOSPC;
    return pw_stream_connect(s->stream, PW_DIRECTION_INPUT, PW_ID_ANY,
                             PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_MAP_BUFFERS, &format, 1);
}

struct pw_stream *porthole_pw_sink_stream(struct porthole_pw_sink *s) { return s->stream; }

void porthole_pw_sink_destroy(struct porthole_pw_sink *s) {
    if (!s) return;
    spa_hook_remove(&s->hook);
    pw_stream_destroy(s->stream);
    free(s);
}
