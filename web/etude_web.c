/* etude_web.c - lookup in the embedded dashboard assets. */
#include "etude_web.h"

#include <string.h>

const etude_web_asset_t *etude_web_asset_find(const char *path)
{
    if (!path)
        return NULL;
    for (size_t i = 0; i < etude_web_asset_count; i++)
        if (strcmp(etude_web_assets[i].path, path) == 0)
            return &etude_web_assets[i];
    return NULL;
}
