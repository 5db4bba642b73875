#include "pipewire_stream.h"

struct pw_stream *porthole_pw_stream_with_properties(struct pw_core *core, const char *name,
                                                     const char *const *keys, const char *const *values, uint32_t n_props) {
    struct pw_properties *props = pw_properties_new(NULL, NULL);
    if (!props) return NULL;
    for (uint32_t i = 0; i < n_props; i++) pw_properties_set(props, keys[i], values[i]);
    // pw_stream_new takes the properties, also on failure.
    return pw_stream_new(core, name, props);
}
