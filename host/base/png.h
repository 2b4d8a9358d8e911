/* Pictures as PNG files: 8-bit RGB, every row unfiltered, deflated by zlib. Any PNG reader opens them. */
#ifndef RNNHOST_PNG_H
#define RNNHOST_PNG_H

#include <stdint.h>

#include "bytebuf.h"

/* Appends the PNG of rgb (height rows of width * 3 bytes, red, green, blue) to b. 0, or -1 when memory runs
 * out or the picture is larger than one PNG chunk may hold (2^31 - 1 bytes). */
int png_encode(bytebuf *b, const uint8_t *rgb, uint32_t width, uint32_t height);

#endif /* RNNHOST_PNG_H */
