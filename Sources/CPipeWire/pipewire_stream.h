// Inside CPipeWire only: what the output (pipewire_shim.c) and input
// (pipewire_sink.c) streams share.
#pragma once
#include <stdbool.h>
#include <pipewire/pipewire.h>

// Makes *stream: a stream named `name` with the n_props given properties,
// whose events go to `table` with `data` through *hook. False (and *stream
// NULL) if PipeWire could not make it.
bool porthole_pw_stream_open(struct pw_stream **stream, struct spa_hook *hook, struct pw_core *core, const char *name,
                             const char *const *keys, const char *const *values, uint32_t n_props,
                             const struct pw_stream_events *table, void *data);
