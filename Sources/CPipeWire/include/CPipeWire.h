// What Swift cannot import well from libpipewire-0.3: the loop's method
// macros, the SPA pod builder macros (format and buffer parameters), and the
// event structs of a stream and of the core (C function-pointer tables with
// a version field, kept alive next to their spa_hook). Everything else the
// bridge calls directly.
#ifndef CPIPEWIRE_H
#define CPIPEWIRE_H

#include <stdbool.h>
#include <stdint.h>
#include <pipewire/pipewire.h>
#include <spa/buffer/buffer.h>
#include <spa/buffer/meta.h>

// --- the loop (pw_loop_* are macros over spa_loop_control) ---------------

/// The fd that becomes readable when the loop has work (epoll it).
int porthole_pw_loop_fd(struct pw_loop *loop);
void porthole_pw_loop_enter(struct pw_loop *loop);
void porthole_pw_loop_leave(struct pw_loop *loop);
/// Runs what is ready, waiting at most timeout_ms (0: not at all).
int porthole_pw_loop_iterate(struct pw_loop *loop, int timeout_ms);

// --- the core's errors -----------------------------------------------------

/// Called when the daemon reports an error on the core (id 0): the
/// connection is gone or unusable. res is a negative errno.
typedef void (*porthole_pw_core_error_fn)(void *user, uint32_t id, int res, const char *message);
struct porthole_pw_core_watch;
struct porthole_pw_core_watch *porthole_pw_core_watch(struct pw_core *core, porthole_pw_core_error_fn on_error, void *user);
void porthole_pw_core_unwatch(struct porthole_pw_core_watch *watch);

// --- a video source stream -------------------------------------------------

/// What a stream reports: state changes (enum pw_stream_state; error set
/// on PW_STREAM_STATE_ERROR), and the format a consumer fixed (0 x 0 when
/// it was cleared). Both run inside porthole_pw_loop_iterate.
struct porthole_pw_source_events {
    void (*state_changed)(void *user, int state, const char *error);
    void (*format_changed)(void *user, uint32_t spa_format, uint32_t width, uint32_t height, int32_t stride);
};

struct porthole_pw_source;

/// A pw_stream with the properties given as n_props key/value pairs
/// (media.class, node.name...). NULL with errno set on failure.
struct porthole_pw_source *porthole_pw_source_new(struct pw_core *core, const char *name,
                                                  const char *const *keys, const char *const *values, uint32_t n_props,
                                                  const struct porthole_pw_source_events *events, void *user);

/// Offers exactly one format (an spa_video_format, width x height) and,
/// once a consumer fixes it, asks for buffers of stride bytes a row in
/// memfds with header and damage metadata (up to max_damage rectangles).
/// The first call connects the stream as a driving output; later calls
/// renegotiate (pw_stream_update_params with the new EnumFormat).
int porthole_pw_source_offer(struct porthole_pw_source *source, uint32_t spa_format, uint32_t width, uint32_t height,
                             int32_t stride, uint32_t max_damage);

struct pw_stream *porthole_pw_source_stream(struct porthole_pw_source *source);

/// Disconnects and destroys the stream (its node leaves the graph).
void porthole_pw_source_destroy(struct porthole_pw_source *source);

// --- metadata of a dequeued buffer (NULL when not negotiated) -------------

struct spa_meta_header *porthole_pw_buffer_header(struct spa_buffer *buffer);
/// The damage array and, in *capacity, how many regions fit in it.
struct spa_meta_region *porthole_pw_buffer_damage(struct spa_buffer *buffer, uint32_t *capacity);

// --- a video input stream (pipewire_sink.c) ----------------------------------

/// What an input stream reports: state changes, the format a source fixed
/// (0 x 0 when cleared), and that a buffer is ready to dequeue. All run
/// inside porthole_pw_loop_iterate.
struct porthole_pw_sink_events {
    void (*state_changed)(void *user, int state, const char *error);
    void (*format_changed)(void *user, uint32_t spa_format, uint32_t width, uint32_t height);
    void (*process)(void *user);
};

struct porthole_pw_sink;

/// An input pw_stream with the given properties (target.object picks the
/// source; without it the session manager does). NULL on failure.
struct porthole_pw_sink *porthole_pw_sink_new(struct pw_core *core, const char *name,
                                              const char *const *keys, const char *const *values, uint32_t n_props,
                                              const struct porthole_pw_sink_events *events, void *user);

/// Connects, offering BGRx, BGRA, RGBx and RGBA raw video of any size up to
/// max_side, in memfd or memptr buffers mapped for the caller.
int porthole_pw_sink_connect(struct porthole_pw_sink *sink, uint32_t max_side);

struct pw_stream *porthole_pw_sink_stream(struct porthole_pw_sink *sink);

void porthole_pw_sink_destroy(struct porthole_pw_sink *sink);

#endif
