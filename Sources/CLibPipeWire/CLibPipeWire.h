// libpipewire-0.3 as a system library: its include paths and link flags come
// from pkg-config (Package.swift); the C target CPipeWire builds on it.
#include <pipewire/pipewire.h>
#include <spa/buffer/buffer.h>
#include <spa/buffer/meta.h>
#include <spa/param/video/raw.h>
