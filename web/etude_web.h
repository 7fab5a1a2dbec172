/* etude_web.h - the dashboard's assets (the files of web/assets), embedded in the binary at build time.
 *
 * etude-syncd serves them (index.html at "/", the others at "/static/NAME"); `etude report` inlines
 * charts.js and app.css into one self-contained HTML file. Everything here is constant data: any
 * thread may read it; nothing is allocated and nothing is freed. */
#ifndef ETUDE_WEB_H
#define ETUDE_WEB_H

#include <stddef.h>

typedef struct etude_web_asset {
    const char *path;         /* "/" + the file's name in web/assets, e.g. "/charts.js" */
    const char *content_type; /* e.g. "text/javascript; charset=utf-8" */
    const unsigned char *data; /* the file's exact bytes, followed by a NUL not counted in len */
    size_t len;
} etude_web_asset_t;

extern const etude_web_asset_t etude_web_assets[];
extern const size_t etude_web_asset_count;

/* [any] The asset whose path is path ("/index.html", "/charts.js"), or NULL. */
const etude_web_asset_t *etude_web_asset_find(const char *path);

#endif
