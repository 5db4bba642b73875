/*
 * A consumer of Porthole's buffer-sharing service written against stock
 * libwayland-client and the code wayland-scanner generates from
 * protocols/porthole-buffer-consumer-v1.xml: the proof that the protocol
 * needs nothing of Porthole's own code on the consumer's side.
 *
 *   consumer SOCKET APPLICATION COUNT
 *
 * It subscribes to APPLICATION on the host proxy's consumer socket, maps
 * each buffer it is given read-only, and for every update checks the frame
 * stamp `porthole share publish` writes (docs/buffer-sharing.md section 6):
 * the stamp's sequence is the update's, its checksum is the bytes', and the
 * sequences of a buffer follow each other with no gap. It releases every
 * update once checked, and exits after COUNT updates: status 0 if all of
 * them passed, 1 otherwise.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wayland-client.h>

#include "porthole-buffer-consumer-v1-client-protocol.h"

#define STAMP_BYTES 32
#define STAMP_MAGIC 0x52464850u

struct view {
    struct porthole_buffer_view_v1 *proxy;
    uint32_t id;
    const uint8_t *map;
    size_t map_length;
    uint32_t offset;
    uint32_t size;
    uint32_t last_sequence;
};

struct consumer {
    struct porthole_buffer_consumer_v1 *global;
    unsigned updates;
    unsigned verified;
    unsigned bad;
    unsigned gaps;
};

static struct consumer consumer;

static uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v); /* the stamp is little-endian, as this machine */
    return v;
}

/* The stamp's checksum: u64 words, the last padded with zeros. */
static uint64_t checksum(const uint8_t *p, size_t count) {
    uint64_t h = 0xcbf29ce484222325ull;
    size_t words = count / 8, i;
    for (i = 0; i < words; i++)
        h = (h ^ load64(p + i * 8)) * 0x100000001b3ull;
    if (count % 8) {
        uint64_t last = 0;
        memcpy(&last, p + words * 8, count % 8);
        h = (h ^ last) * 0x100000001b3ull;
    }
    return h;
}

/* Whether the buffer holds the frame of `sequence`, whole. */
static int frame_ok(const struct view *v, uint32_t sequence) {
    const uint8_t *frame = v->map + v->offset;
    uint32_t magic, stamped;
    if (v->size < STAMP_BYTES)
        return 0;
    memcpy(&magic, frame, 4);
    memcpy(&stamped, frame + 4, 4);
    if (magic != STAMP_MAGIC || stamped != sequence) {
        fprintf(stderr, "consumer: buffer %u: stamp says sequence %u (magic %08x), update says %u\n", v->id, stamped, magic, sequence);
        return 0;
    }
    if (load64(frame + 16) != checksum(frame + STAMP_BYTES, v->size - STAMP_BYTES)) {
        fprintf(stderr, "consumer: buffer %u sequence %u: checksum mismatch\n", v->id, sequence);
        return 0;
    }
    return 1;
}

static void view_property(void *data, struct porthole_buffer_view_v1 *proxy, const char *name, const char *value) {
    (void)data; (void)proxy; (void)name; (void)value;
}

static void view_done(void *data, struct porthole_buffer_view_v1 *proxy) {
    (void)data; (void)proxy;
}

static void view_updated(void *data, struct porthole_buffer_view_v1 *proxy, uint32_t sequence, struct wl_array *damage, uint32_t render_usec) {
    struct view *v = data;
    (void)damage; (void)render_usec;
    consumer.updates++;
    if (frame_ok(v, sequence))
        consumer.verified++;
    else
        consumer.bad++;
    if (v->last_sequence != 0 && sequence != v->last_sequence + 1) {
        fprintf(stderr, "consumer: buffer %u: sequence %u after %u\n", v->id, sequence, v->last_sequence);
        consumer.gaps++;
    }
    v->last_sequence = sequence;
    porthole_buffer_view_v1_release(proxy, sequence);
}

static void view_removed(void *data, struct porthole_buffer_view_v1 *proxy) {
    struct view *v = data;
    porthole_buffer_view_v1_destroy(proxy);
    munmap((void *)v->map, v->map_length);
    free(v);
}

static const struct porthole_buffer_view_v1_listener view_listener = {
    .property = view_property,
    .done = view_done,
    .updated = view_updated,
    .removed = view_removed,
};

static void guest_connected(void *data, struct porthole_buffer_subscription_v1 *s, const char *guest) {
    (void)data; (void)s;
    fprintf(stderr, "consumer: guest %s connected\n", guest);
}

static void guest_disconnected(void *data, struct porthole_buffer_subscription_v1 *s, const char *guest) {
    (void)data; (void)s;
    fprintf(stderr, "consumer: guest %s disconnected\n", guest);
}

static void buffer_added(void *data, struct porthole_buffer_subscription_v1 *s, struct porthole_buffer_view_v1 *proxy, uint32_t id,
                         const char *guest, const char *application, int32_t fd, uint32_t offset, uint32_t size) {
    struct view *v = calloc(1, sizeof *v);
    (void)data; (void)s;
    if (!v) {
        perror("consumer: calloc");
        exit(1);
    }
    v->proxy = proxy;
    v->id = id;
    v->offset = offset;
    v->size = size;
    v->map_length = (size_t)offset + size;
    v->map = mmap(NULL, v->map_length, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (v->map == MAP_FAILED) {
        perror("consumer: mmap");
        exit(1);
    }
    fprintf(stderr, "consumer: buffer %u of %s/%s, %u bytes\n", id, guest, application, size);
    porthole_buffer_view_v1_add_listener(proxy, &view_listener, v);
}

static void reset(void *data, struct porthole_buffer_subscription_v1 *s, const char *guest, uint32_t generation) {
    (void)data; (void)s;
    fprintf(stderr, "consumer: guest %s reset, generation %u\n", guest, generation);
}

static const struct porthole_buffer_subscription_v1_listener subscription_listener = {
    .guest_connected = guest_connected,
    .guest_disconnected = guest_disconnected,
    .buffer_added = buffer_added,
    .reset = reset,
};

static void global(void *data, struct wl_registry *registry, uint32_t name, const char *interface, uint32_t version) {
    (void)data; (void)version;
    if (strcmp(interface, porthole_buffer_consumer_v1_interface.name) == 0)
        consumer.global = wl_registry_bind(registry, name, &porthole_buffer_consumer_v1_interface, 1);
}

static void global_remove(void *data, struct wl_registry *registry, uint32_t name) {
    (void)data; (void)registry; (void)name;
}

static const struct wl_registry_listener registry_listener = { .global = global, .global_remove = global_remove };

int main(int argc, char **argv) {
    struct wl_display *display;
    struct wl_registry *registry;
    struct porthole_buffer_subscription_v1 *subscription;
    unsigned count;

    if (argc != 4) {
        fprintf(stderr, "usage: %s SOCKET APPLICATION COUNT\n", argv[0]);
        return 2;
    }
    count = (unsigned)strtoul(argv[3], NULL, 10);
    alarm(120); /* never outlive a broken test */
    display = wl_display_connect(argv[1]);
    if (!display) {
        perror("consumer: cannot connect");
        return 1;
    }
    registry = wl_display_get_registry(display);
    wl_registry_add_listener(registry, &registry_listener, NULL);
    wl_display_roundtrip(display);
    if (!consumer.global) {
        fprintf(stderr, "consumer: no %s global\n", porthole_buffer_consumer_v1_interface.name);
        return 1;
    }
    subscription = porthole_buffer_consumer_v1_subscribe(consumer.global, argv[2], NULL);
    porthole_buffer_subscription_v1_add_listener(subscription, &subscription_listener, NULL);
    /* Tell the test this consumer is subscribed. */
    wl_display_roundtrip(display);
    printf("subscribed\n");
    fflush(stdout);
    while (consumer.updates < count) {
        if (wl_display_dispatch(display) < 0) {
            fprintf(stderr, "consumer: connection failed after %u updates\n", consumer.updates);
            return 1;
        }
    }
    wl_display_flush(display);
    printf("consumer: %u updates, %u verified, %u bad, %u gaps\n", consumer.updates, consumer.verified, consumer.bad, consumer.gaps);
    wl_display_disconnect(display);
    return consumer.bad == 0 && consumer.gaps == 0 ? 0 : 1;
}
