/* A Wayland client that draws a known pattern into a DRM dumb buffer,
 * exports it as a dma-buf (PRIME) and shows it through zwp_linux_dmabuf_v1
 * (create_immed, linear XRGB8888), in an xdg_toplevel. Built against stock
 * libwayland-client and the protocol code wayland-scanner makes.
 *
 * It shows two windows of the same pattern: one from a buffer stored top
 * row first, one from a buffer stored bottom row first and created with the
 * y_invert flag (as GL clients do).
 *
 * usage: dmabuf_pattern [--churn N | --frames N | --shm-frames N] DRM-NODE SECONDS [STOP-FILE]
 * Prints "DMABUF-PATTERN shown WxH stride S" once the compositor has both
 * buffers (frame callbacks came back), stays up SECONDS more (or until
 * STOP-FILE exists), and exits 0.
 * --churn N: first, on a window of its own, N rounds of buffers that die
 * early, each round once with a dma-buf and once with a wl_shm buffer of
 * the same pattern (so the two can be told apart by nothing but the kind):
 * attach, commit, then destroy the wl_buffer and close its fd at once; and
 * attach, destroy the wl_buffer and close its fd, then commit. A roundtrip
 * after each round must succeed (no protocol error); the window is then
 * destroyed. Prints "DMABUF-CHURN N rounds ok" and goes on as above.
 * --frames N / --shm-frames N: then N frames on the first window, each a
 * full redraw (the pattern and its inverse in turn) of one dma-buf (or one
 * wl_shm buffer), committed with full damage once the previous frame's
 * callback came back (with N even the last one is the pattern); prints "DMABUF-FRAMES dmabuf|shm N frames in S s".
 * Linear XRGB8888 is used with the LINEAR modifier when the compositor
 * offers it, else with the implicit one (DRM_FORMAT_MOD_INVALID: a GL
 * compositor on Mesa's kms_swrast offers only that; a dumb buffer is
 * linear either way).
 * Exit 2: the dma-buf could not be made; 3: linux-dmabuf missing or
 * refused; 4: the connection failed; 5: a churn round failed. The pattern: four quadrants of
 * 0xff0000, 0x00ff00, 0x0000ff, 0xffffff (top left, top right, bottom left,
 * bottom right) with a one-pixel black frame.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <wayland-client.h>
#include "linux-dmabuf-unstable-v1-client-protocol.h"
#include "xdg-shell-client-protocol.h"

/* DRM UAPI (drm.h, drm_mode.h), declared here: libdrm-dev is not needed. */
struct dumb_create { uint32_t height, width, bpp, flags, handle, pitch; uint64_t size; };
struct prime_handle { uint32_t handle, flags; int32_t fd; };
struct dumb_destroy { uint32_t handle; };
#define IOCTL_MODE_CREATE_DUMB _IOWR('d', 0xB2, struct dumb_create)
#define IOCTL_PRIME_HANDLE_TO_FD _IOWR('d', 0x2D, struct prime_handle)
#define IOCTL_MODE_DESTROY_DUMB _IOWR('d', 0xB4, struct dumb_destroy)
#define MOD_INVALID 0x00ffffffffffffffull
#define FOURCC_XRGB8888 0x34325258u /* "XR24" */

enum { WIDTH = 240, HEIGHT = 160 };

static struct wl_compositor *compositor;
static struct xdg_wm_base *wm_base;
static struct zwp_linux_dmabuf_v1 *dmabuf;
static struct wl_shm *shm;
static int configured, shown, xrgb_linear, xrgb_implicit;
static struct wl_surface *first_surface;


static void dmabuf_format(void *data, struct zwp_linux_dmabuf_v1 *d, uint32_t format) { (void)data; (void)d; (void)format; }
static void dmabuf_modifier(void *data, struct zwp_linux_dmabuf_v1 *d, uint32_t format, uint32_t hi, uint32_t lo) {
    (void)data; (void)d;
    uint64_t modifier = (uint64_t)hi << 32 | lo;
    if (format == FOURCC_XRGB8888 && modifier == 0) xrgb_linear = 1;
    if (format == FOURCC_XRGB8888 && modifier == MOD_INVALID) xrgb_implicit = 1;
}
static const struct zwp_linux_dmabuf_v1_listener dmabuf_listener = { dmabuf_format, dmabuf_modifier };

static void ping(void *data, struct xdg_wm_base *b, uint32_t serial) { (void)data; xdg_wm_base_pong(b, serial); }
static const struct xdg_wm_base_listener wm_listener = { ping };
static void global(void *data, struct wl_registry *r, uint32_t name, const char *iface, uint32_t version) {
    (void)data;
    if (!strcmp(iface, "wl_compositor")) compositor = wl_registry_bind(r, name, &wl_compositor_interface, 4);
    else if (!strcmp(iface, "wl_shm")) shm = wl_registry_bind(r, name, &wl_shm_interface, 1);
    else if (!strcmp(iface, "xdg_wm_base")) {
        wm_base = wl_registry_bind(r, name, &xdg_wm_base_interface, 1);
        xdg_wm_base_add_listener(wm_base, &wm_listener, NULL);
    } else if (!strcmp(iface, "zwp_linux_dmabuf_v1") && version >= 3) {
        // The listener goes on at once: the bind may be flushed, and its
        // format and modifier events read and dispatched, before the first
        // roundtrip returns — events for an object without a listener are
        // dropped (the test lost XRGB8888 so once under load).
        dmabuf = wl_registry_bind(r, name, &zwp_linux_dmabuf_v1_interface, 3);
        zwp_linux_dmabuf_v1_add_listener(dmabuf, &dmabuf_listener, NULL);
    }
}
static void global_remove(void *data, struct wl_registry *r, uint32_t name) { (void)data; (void)r; (void)name; }
static const struct wl_registry_listener registry_listener = { global, global_remove };
static void surface_configure(void *data, struct xdg_surface *s, uint32_t serial) {
    (void)data; xdg_surface_ack_configure(s, serial); configured++;
}
static const struct xdg_surface_listener surface_listener = { surface_configure };
static void frame_done(void *data, struct wl_callback *cb, uint32_t t) { (void)data; (void)t; wl_callback_destroy(cb); shown++; }
static const struct wl_callback_listener frame_listener = { frame_done };

static uint32_t pattern(int x, int y) {
    if (x == 0 || y == 0 || x == WIDTH - 1 || y == HEIGHT - 1) return 0xff000000u;
    int right = x >= WIDTH / 2, bottom = y >= HEIGHT / 2;
    static const uint32_t colors[4] = { 0xffff0000u, 0xff00ff00u, 0xff0000ffu, 0xffffffffu };
    return colors[bottom * 2 + right];
}

/* A dumb buffer holding the pattern, exported as a dma-buf: its fd and pitch.
 * Bottom row first when y_inverted. Exits on failure. */
static int make_dmabuf(int drm, int y_inverted, uint32_t *pitch, uint32_t *handle) {
    struct dumb_create create = { .height = HEIGHT, .width = WIDTH, .bpp = 32 };
    if (ioctl(drm, IOCTL_MODE_CREATE_DUMB, &create) != 0) { perror("DRM_IOCTL_MODE_CREATE_DUMB"); exit(2); }
    struct prime_handle prime = { .handle = create.handle, .flags = O_CLOEXEC | O_RDWR, .fd = -1 };
    if (ioctl(drm, IOCTL_PRIME_HANDLE_TO_FD, &prime) != 0) { perror("DRM_IOCTL_PRIME_HANDLE_TO_FD"); exit(2); }
    off_t size = lseek(prime.fd, 0, SEEK_END);
    uint8_t *pixels = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, prime.fd, 0);
    if (pixels == MAP_FAILED) { perror("mmap of the dma-buf"); exit(2); }
    struct dma_buf_sync sync = { DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE };
    if (ioctl(prime.fd, DMA_BUF_IOCTL_SYNC, &sync) != 0) { perror("DMA_BUF_IOCTL_SYNC"); exit(2); }
    for (int y = 0; y < HEIGHT; y++) {
        int row = y_inverted ? HEIGHT - 1 - y : y;
        for (int x = 0; x < WIDTH; x++) memcpy(pixels + (size_t)row * create.pitch + (size_t)x * 4, &(uint32_t){ pattern(x, y) }, 4);
    }
    sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE;
    ioctl(prime.fd, DMA_BUF_IOCTL_SYNC, &sync);
    munmap(pixels, (size_t)size);
    if (!handle) fprintf(stderr, "dma-buf: %lld bytes, pitch %u%s\n", (long long)size, create.pitch, y_inverted ? ", y-inverted" : "");
    *pitch = create.pitch;
    if (handle) *handle = create.handle;
    return prime.fd;
}

/* A wl_buffer for the dma-buf `fd` (linear XRGB8888). */
static struct wl_buffer *dmabuf_buffer(int fd, uint32_t pitch, int y_inverted) {
    struct zwp_linux_buffer_params_v1 *params = zwp_linux_dmabuf_v1_create_params(dmabuf);
    uint64_t modifier = xrgb_linear ? 0 : MOD_INVALID;
    zwp_linux_buffer_params_v1_add(params, fd, 0, 0, pitch, (uint32_t)(modifier >> 32), (uint32_t)modifier);
    uint32_t flags = y_inverted ? ZWP_LINUX_BUFFER_PARAMS_V1_FLAGS_Y_INVERT : 0;
    struct wl_buffer *buffer = zwp_linux_buffer_params_v1_create_immed(params, WIDTH, HEIGHT, FOURCC_XRGB8888, flags);
    zwp_linux_buffer_params_v1_destroy(params);
    return buffer;
}

/* A wl_shm buffer of the pattern, in a memfd of its own (returned in *fd). */
static struct wl_buffer *shm_buffer(int *fd) {
    size_t size = (size_t)WIDTH * HEIGHT * 4;
    *fd = (int)syscall(SYS_memfd_create, "dmabuf-pattern-shm", 1u /* MFD_CLOEXEC */);
    if (*fd < 0 || ftruncate(*fd, (off_t)size) != 0) { perror("memfd"); exit(5); }
    uint32_t *pixels = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    if (pixels == MAP_FAILED) { perror("mmap of the memfd"); exit(5); }
    for (int y = 0; y < HEIGHT; y++)
        for (int x = 0; x < WIDTH; x++) pixels[y * WIDTH + x] = pattern(x, y);
    munmap(pixels, size);
    struct wl_shm_pool *pool = wl_shm_create_pool(shm, *fd, (int32_t)size);
    struct wl_buffer *buffer = wl_shm_pool_create_buffer(pool, 0, WIDTH, HEIGHT, WIDTH * 4, WL_SHM_FORMAT_XRGB8888);
    wl_shm_pool_destroy(pool);
    return buffer;
}

/* Buffers that die early, on a window of its own: each round, a dma-buf and
 * a wl_shm buffer destroyed (with their fds closed) right after the commit
 * that shows them, and again between attach and commit. */
static void churn(struct wl_display *display, int drm, int rounds) {
    struct wl_surface *surface = wl_compositor_create_surface(compositor);
    struct xdg_surface *xdg = xdg_wm_base_get_xdg_surface(wm_base, surface);
    xdg_surface_add_listener(xdg, &surface_listener, NULL);
    struct xdg_toplevel *toplevel = xdg_surface_get_toplevel(xdg);
    xdg_toplevel_set_title(toplevel, "dmabuf-pattern churn");
    int before = configured;
    wl_surface_commit(surface);
    while (configured == before && wl_display_dispatch(display) >= 0) {}
    for (int round = 0; round < rounds; round++) {
        for (int kind = 0; kind < 4; kind++) {
            int use_dmabuf = kind < 2, commit_first = kind % 2 == 0;
            int fd;
            uint32_t pitch, handle = 0;
            struct wl_buffer *buffer;
            if (use_dmabuf) {
                fd = make_dmabuf(drm, 0, &pitch, &handle);
                buffer = dmabuf_buffer(fd, pitch, 0);
            } else {
                buffer = shm_buffer(&fd);
            }
            wl_surface_attach(surface, buffer, 0, 0);
            wl_surface_damage_buffer(surface, 0, 0, WIDTH, HEIGHT);
            if (commit_first) wl_surface_commit(surface);
            wl_buffer_destroy(buffer);
            close(fd);
            if (handle) ioctl(drm, IOCTL_MODE_DESTROY_DUMB, &(struct dumb_destroy){ handle });
            if (!commit_first) wl_surface_commit(surface);
        }
        if (wl_display_roundtrip(display) < 0) {
            fprintf(stderr, "churn round %d: %s\n", round, strerror(wl_display_get_error(display)));
            exit(5);
        }
    }
    xdg_toplevel_destroy(toplevel);
    xdg_surface_destroy(xdg);
    wl_surface_destroy(surface);
    if (wl_display_roundtrip(display) < 0) { fprintf(stderr, "after the churn: %s\n", strerror(wl_display_get_error(display))); exit(5); }
    printf("DMABUF-CHURN %d rounds ok\n", rounds);
    fflush(stdout);
}

/* A toplevel showing the dma-buf `fd` through linux-dmabuf. */
static void show(struct wl_display *display, int fd, uint32_t pitch, int y_inverted, const char *title) {
    struct wl_buffer *buffer = dmabuf_buffer(fd, pitch, y_inverted);
    struct wl_surface *surface = wl_compositor_create_surface(compositor);
    struct xdg_surface *xdg = xdg_wm_base_get_xdg_surface(wm_base, surface);
    xdg_surface_add_listener(xdg, &surface_listener, NULL);
    struct xdg_toplevel *toplevel = xdg_surface_get_toplevel(xdg);
    xdg_toplevel_set_title(toplevel, title);
    int before = configured;
    wl_surface_commit(surface);
    while (configured == before && wl_display_dispatch(display) >= 0) {}
    wl_surface_attach(surface, buffer, 0, 0);
    wl_surface_damage_buffer(surface, 0, 0, WIDTH, HEIGHT);
    wl_callback_add_listener(wl_surface_frame(surface), &frame_listener, NULL);
    wl_surface_commit(surface);
    if (!first_surface) first_surface = surface;
}

/* Fills `pixels` (stride `pitch`) with the pattern, inverted when `inverse`. */
static void draw(uint8_t *pixels, uint32_t pitch, int inverse) {
    for (int y = 0; y < HEIGHT; y++) {
        uint32_t *row = (uint32_t *)(pixels + (size_t)y * pitch);
        for (int x = 0; x < WIDTH; x++) row[x] = inverse ? pattern(x, y) ^ 0x00ffffffu : pattern(x, y);
    }
}

/* N fully changed frames on the first window, from one dma-buf or one
 * wl_shm buffer, each after the previous frame's callback; prints the time. */
static void frames(struct wl_display *display, int drm, int count, int use_shm) {
    int fd;
    uint32_t pitch = WIDTH * 4, handle = 0;
    struct wl_buffer *buffer = use_shm ? shm_buffer(&fd) : NULL;
    if (!use_shm) {
        fd = make_dmabuf(drm, 0, &pitch, &handle);
        buffer = dmabuf_buffer(fd, pitch, 0);
    }
    size_t size = (size_t)pitch * HEIGHT;
    uint8_t *pixels = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (pixels == MAP_FAILED) { perror("mmap for frames"); exit(5); }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < count; i++) {
        struct dma_buf_sync sync = { DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE };
        if (!use_shm) ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync);
        draw(pixels, pitch, i % 2 == 0);
        sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE;
        if (!use_shm) ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync);
        int before = shown;
        wl_surface_attach(first_surface, buffer, 0, 0);
        wl_surface_damage_buffer(first_surface, 0, 0, WIDTH, HEIGHT);
        wl_callback_add_listener(wl_surface_frame(first_surface), &frame_listener, NULL);
        wl_surface_commit(first_surface);
        while (shown == before && wl_display_dispatch(display) >= 0) {}
        if (shown == before) { fprintf(stderr, "frames: connection failed\n"); exit(4); }
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    munmap(pixels, size);
    printf("DMABUF-FRAMES %s %d frames in %.3f s\n", use_shm ? "shm" : "dmabuf", count,
           (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9);
    fflush(stdout);
}

int main(int argc, char **argv) {
    int rounds = 0, frame_count = 0, shm_frames = 0;
    if (argc >= 3 && !strcmp(argv[1], "--churn")) { rounds = atoi(argv[2]); argv += 2; argc -= 2; }
    else if (argc >= 3 && (!strcmp(argv[1], "--frames") || !strcmp(argv[1], "--shm-frames"))) {
        shm_frames = !strcmp(argv[1], "--shm-frames");
        frame_count = atoi(argv[2]); argv += 2; argc -= 2;
    }
    if (argc != 3 && argc != 4) { fprintf(stderr, "usage: %s [--churn N | --frames N | --shm-frames N] DRM-NODE SECONDS [STOP-FILE]\n", argv[0]); return 64; }
    const char *stop_file = argc == 4 ? argv[3] : NULL;
    int seconds = atoi(argv[2]);
    int drm = open(argv[1], O_RDWR | O_CLOEXEC);
    if (drm < 0) { perror(argv[1]); return 2; }
    uint32_t pitch, inverted_pitch;
    int fd = make_dmabuf(drm, 0, &pitch, NULL);
    int inverted_fd = make_dmabuf(drm, 1, &inverted_pitch, NULL);

    struct wl_display *display = wl_display_connect(NULL);
    if (!display) { perror("wl_display_connect"); return 4; }
    struct wl_registry *registry = wl_display_get_registry(display);
    wl_registry_add_listener(registry, &registry_listener, NULL);
    wl_display_roundtrip(display);
    if (!compositor || !wm_base || !dmabuf || !shm) { fprintf(stderr, "no compositor, wl_shm, xdg_wm_base or zwp_linux_dmabuf_v1 v3\n"); return 3; }
    wl_display_roundtrip(display);
    if (!xrgb_linear && !xrgb_implicit) { fprintf(stderr, "XRGB8888 (linear or implicit) is not offered\n"); return 3; }
    if (rounds > 0) churn(display, drm, rounds);

    show(display, fd, pitch, 0, "dmabuf-pattern");
    show(display, inverted_fd, inverted_pitch, 1, "dmabuf-pattern y-inverted");
    while (shown < 2 && wl_display_dispatch(display) >= 0) {}
    if (shown < 2) { fprintf(stderr, "connection failed: %s\n", strerror(wl_display_get_error(display))); return 4; }
    printf("DMABUF-PATTERN shown %dx%d stride %u\n", WIDTH, HEIGHT, pitch);
    fflush(stdout);
    if (frame_count > 0) frames(display, drm, frame_count, shm_frames);
    time_t end = time(NULL) + seconds;
    while (time(NULL) < end && !(stop_file && access(stop_file, F_OK) == 0)) {
        if (wl_display_roundtrip(display) < 0) { fprintf(stderr, "connection lost\n"); return 4; }
        usleep(100000);
    }
    return 0;
}
