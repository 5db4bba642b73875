// Inside CPipeWire only: what the output (pipewire_shim.c) and input
// (pipewire_sink.c) streams share.
#pragma once
#include <pipewire/pipewire.h>

// A stream named `name` with the n_props given properties, or NULL.
struct pw_stream *porthole_pw_stream_with_properties(struct pw_core *core, const char *name,
                                                     const char *const *keys, const char *const *values, uint32_t n_props);
