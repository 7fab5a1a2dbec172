/* etude_uuid.c - version 4 UUIDs from libsodium's random generator, and their strict check. */
#include "etude_uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

void etude_uuid_new(char out[ETUDE_UUID_LEN])
{
    unsigned char b[16];
    if (sodium_init() < 0)
        abort();
    randombytes_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, ETUDE_UUID_LEN, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

int etude_uuid_valid(const char *s)
{
    if (!s || strnlen(s, 37) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }
    return 1;
}
