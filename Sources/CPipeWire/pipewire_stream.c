#include "pipewire_stream.h"

bool porthole_pw_stream_open(struct pw_stream **stream, struct spa_hook *hook, struct pw_core *core, const char *name,
                             const char *const *keys, const char *const *values, uint32_t n_props,
                             const struct pw_stream_events *table, void *data) {
    *stream = NULL;
    struct pw_properties *props = pw_properties_new(NULL, NULL);
    if (!props) return false;
    for (uint32_t i = 0; i < n_props; i++) pw_properties_set(props, keys[i], values[i]);
    // pw_stream_new takes the properties, also on failure.
    *stream = pw_stream_new(core, name, props);
    if (!*stream) return false;
    pw_stream_add_listener(*stream, hook, table, data);
    return true;
}
