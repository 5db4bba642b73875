/*
 * A PipeWire video consumer written against stock libpipewire-0.3, for the
 * bridge's tests and benchmarks (porthole pipewire export):
 *
 *   pipewire-consumer NAME FRAMES SECONDS
 *
 * It makes an input stream named NAME (link it to a bridge node with
 * pw-link; no session manager needed), accepts BGRx or RGBx of any size, follows
 * renegotiation, and for every frame checks the stamp `porthole share
 * publish` writes (docs/buffer-sharing.md section 6): its sequence must be
 * the one in the buffer's header metadata and its checksum the frame's.
 * One line per frame on stdout:
 *
 *   frame SEQ WIDTHxHEIGHT ok|bad LATENCY_US DAMAGE_REGIONS AT_US
 *
 * (latency: now minus the producer's time in the stamp, one machine's
 * CLOCK_MONOTONIC; AT_US: when the frame arrived, from the start). It stops after FRAMES frames or SECONDS seconds; exit
 * status 0 if it saw FRAMES frames and all passed, 1 otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pipewire/pipewire.h>
#include <spa/param/video/format-utils.h>
#include <spa/param/buffers.h>

#define STAMP_BYTES 32
#define STAMP_MAGIC 0x52464850u

struct consumer {
    struct pw_main_loop *loop;
    struct pw_stream *stream;
    struct spa_hook hook;
    struct spa_video_info_raw format;
    unsigned want, frames, bad;
    uint64_t start;
};

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v); /* the stamp is little-endian, as this machine */
    return v;
}

/* The stamp's checksum: u64 words, the last padded with zeros. */
static uint64_t checksum(const uint8_t *p, size_t count) {
    uint64_t h = 0xcbf29ce484222325ull;
    size_t words = count / 8, i;
    for (i = 0; i < words; i++) h = (h ^ load64(p + i * 8)) * 0x100000001b3ull;
    if (count % 8) {
        uint64_t last = 0;
        memcpy(&last, p + words * 8, count % 8);
        h = (h ^ last) * 0x100000001b3ull;
    }
    return h;
}

static void on_param_changed(void *data, uint32_t id, const struct spa_pod *param) {
    struct consumer *c = data;
    if (id != SPA_PARAM_Format || param == NULL) return;
    if (spa_format_video_raw_parse(param, &c->format) < 0) return;
    fprintf(stderr, "format %ux%u\n", c->format.size.width, c->format.size.height);
    uint8_t storage[256];
    struct spa_pod_builder b = SPA_POD_BUILDER_INIT(storage, sizeof(storage));
    const struct spa_pod *params[1];
    params[0] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers,
        SPA_PARAM_BUFFERS_dataType, SPA_POD_CHOICE_FLAGS_Int((1 << SPA_DATA_MemFd) | (1 << SPA_DATA_MemPtr)));
    pw_stream_update_params(c->stream, params, 1);
}

static void on_process(void *data) {
    struct consumer *c = data;
    struct pw_buffer *b;
    while ((b = pw_stream_dequeue_buffer(c->stream)) != NULL) {
        struct spa_buffer *buf = b->buffer;
        struct spa_data *d = &buf->datas[0];
        struct spa_meta_header *h = spa_buffer_find_meta_data(buf, SPA_META_Header, sizeof(*h));
        struct spa_meta *dm = spa_buffer_find_meta(buf, SPA_META_VideoDamage);
        unsigned regions = 0;
        if (dm) {
            struct spa_meta_region *r;
            spa_meta_for_each(r, dm) {
                if (!spa_meta_region_is_valid(r)) break;
                regions++;
            }
        }
        const uint8_t *p = d->data;
        uint32_t size = d->chunk->size, offset = d->chunk->offset;
        int ok = 0;
        long long latency = -1;
        uint64_t now = now_ns();
        uint32_t seq = 0;
        if (p && offset <= d->maxsize && size <= d->maxsize - offset && size >= STAMP_BYTES) {
            p += offset;
            uint32_t magic;
            memcpy(&magic, p, 4);
            memcpy(&seq, p + 4, 4);
            uint64_t stamped = load64(p + 8), sum = load64(p + 16);
            ok = magic == STAMP_MAGIC && h != NULL && h->seq == seq && sum == checksum(p + STAMP_BYTES, size - STAMP_BYTES);
            if (now >= stamped) latency = (long long)((now - stamped) / 1000);
        }
        printf("frame %u %ux%u %s %lld %u %llu\n", seq, c->format.size.width, c->format.size.height, ok ? "ok" : "bad", latency,
               regions, (unsigned long long)((now - c->start) / 1000));
        fflush(stdout);
        c->frames++;
        if (!ok) c->bad++;
        pw_stream_queue_buffer(c->stream, b);
        if (c->frames >= c->want) {
            pw_main_loop_quit(c->loop);
            return;
        }
    }
}

static void on_state_changed(void *data, enum pw_stream_state old, enum pw_stream_state state, const char *error) {
    (void)data;
    (void)old;
    fprintf(stderr, "state %s%s%s\n", pw_stream_state_as_string(state), error ? ": " : "", error ? error : "");
}

static const struct pw_stream_events events = {
    .version = PW_VERSION_STREAM_EVENTS,
    .state_changed = on_state_changed,
    .param_changed = on_param_changed,
    .process = on_process,
};

static void on_timeout(void *data, uint64_t expirations) {
    (void)expirations;
    struct consumer *c = data;
    fprintf(stderr, "time is up after %u frames\n", c->frames);
    pw_main_loop_quit(c->loop);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s NAME FRAMES SECONDS\n", argv[0]);
        return 2;
    }
    struct consumer c;
    memset(&c, 0, sizeof c);
    c.want = (unsigned)atoi(argv[2]);
    c.start = now_ns();
    pw_init(&argc, &argv);
    c.loop = pw_main_loop_new(NULL);
    if (!c.loop) return 1;
    c.stream = pw_stream_new_simple(pw_main_loop_get_loop(c.loop), argv[1],
        pw_properties_new(PW_KEY_MEDIA_TYPE, "Video", PW_KEY_MEDIA_CATEGORY, "Capture", PW_KEY_NODE_NAME, argv[1], NULL),
        &events, &c);
    if (!c.stream) return 1;
    uint8_t storage[1024];
    struct spa_pod_builder b = SPA_POD_BUILDER_INIT(storage, sizeof(storage));
    const struct spa_pod *params[3];
    /* Metadata reaches a consumer only if both ends ask for it: from the
     * start, so that the first buffers already carry it. */
    params[1] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta,
        SPA_PARAM_META_type, SPA_POD_Id(SPA_META_Header),
        SPA_PARAM_META_size, SPA_POD_Int(sizeof(struct spa_meta_header)));
    params[2] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta,
        SPA_PARAM_META_type, SPA_POD_Id(SPA_META_VideoDamage),
        SPA_PARAM_META_size, SPA_POD_CHOICE_RANGE_Int(sizeof(struct spa_meta_region) * 16,
                                                      sizeof(struct spa_meta_region),
                                                      sizeof(struct spa_meta_region) * 64));
    params[0] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat,
        SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
        SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
        SPA_FORMAT_VIDEO_format, SPA_POD_CHOICE_ENUM_Id(3, SPA_VIDEO_FORMAT_BGRx, SPA_VIDEO_FORMAT_BGRx, SPA_VIDEO_FORMAT_RGBx),
        SPA_FORMAT_VIDEO_size, SPA_POD_CHOICE_RANGE_Rectangle(&SPA_RECTANGLE(640, 480), &SPA_RECTANGLE(1, 1),
                                                              &SPA_RECTANGLE(16384, 16384)),
        SPA_FORMAT_VIDEO_framerate, SPA_POD_CHOICE_RANGE_Fraction(&SPA_FRACTION(0, 1), &SPA_FRACTION(0, 1),
                                                                  &SPA_FRACTION(1000, 1)));
    if (pw_stream_connect(c.stream, PW_DIRECTION_INPUT, PW_ID_ANY, PW_STREAM_FLAG_MAP_BUFFERS, params, 3) < 0) return 1;
    struct spa_source *timer = pw_loop_add_timer(pw_main_loop_get_loop(c.loop), on_timeout, &c);
    struct timespec after = { .tv_sec = atoi(argv[3]), .tv_nsec = 0 };
    pw_loop_update_timer(pw_main_loop_get_loop(c.loop), timer, &after, NULL, false);
    pw_main_loop_run(c.loop);
    fprintf(stderr, "%u frames, %u bad\n", c.frames, c.bad);
    pw_stream_destroy(c.stream);
    pw_main_loop_destroy(c.loop);
    pw_deinit();
    return c.frames >= c.want && c.bad == 0 ? 0 : 1;
}
