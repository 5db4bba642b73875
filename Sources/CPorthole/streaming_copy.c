#include "CPorthole.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

// Streaming (non-temporal) stores write whole cache lines to memory without
// first reading them in (no read-for-ownership) and without evicting what the
// cache holds. For a frame larger than the last-level cache that is a third
// less memory traffic than memcpy's write-allocate; glibc streams only above
// a threshold far larger than a frame.
__attribute__((target("avx2")))
static void copy_streaming_avx2(unsigned char *d, const unsigned char *s, size_t n) {
    for (; n >= 128; n -= 128, d += 128, s += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)s);
        __m256i b = _mm256_loadu_si256((const __m256i *)(s + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(s + 64));
        __m256i e = _mm256_loadu_si256((const __m256i *)(s + 96));
        _mm256_stream_si256((__m256i *)d, a);
        _mm256_stream_si256((__m256i *)(d + 32), b);
        _mm256_stream_si256((__m256i *)(d + 64), c);
        _mm256_stream_si256((__m256i *)(d + 96), e);
    }
    _mm_sfence();
    if (n > 0) memcpy(d, s, n);
}

void porthole_copy_streaming(void *dst, const void *src, size_t n) {
    static int avx2 = -1;
    if (avx2 < 0) avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
    unsigned char *d = dst;
    const unsigned char *s = src;
    // The stores need 32-byte aligned targets: the head up to that goes by memcpy.
    size_t head = (32 - ((uintptr_t)d & 31)) & 31;
    if (!avx2 || n < head + 128) { memcpy(d, s, n); return; }
    memcpy(d, s, head);
    copy_streaming_avx2(d + head, s + head, n - head);
}
#else
void porthole_copy_streaming(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }
#endif
